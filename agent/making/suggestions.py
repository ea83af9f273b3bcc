"""Revising a critiqued piece by one of its critique's suggestions ("apply suggestion 2").

A critique (tools/critique/tool.py) keeps its numbered suggestions in its params and names the
piece it critiqued as its parent. When a person asks to apply one while a critique is in
focus (replied to, named as #N, or the latest piece), the tool that makes pieces of the
critiqued kind revises that piece (Tool.revision) with the suggestion as its instruction, and
the new version joins the piece's version tree. A critique of a poem pasted into a message has
no piece to revise, so applying one of its suggestions first keeps that poem as a piece.

A request is recognised only when it is plainly about a suggestion: "apply suggestion 2",
"use suggestion #3", "try the second suggestion", or "suggestion 2" on its own.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agent.making.creations import Creations, Request
from agent.making.revisions import CannotRevise, revising
from agent.store.artifacts import ArtifactNotFound, add_artifact, resolve_focus, visible_artifact
from agent.store.db import Artifact
from agent.store.scope import find_or_create_conversation, find_or_create_user
from agent.types import Reply, Turn
from tools.contract import ArtifactDraft, ArtifactKind, Tool, ToolArgs

_ORDINALS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5}
_NUMBER = r"(?:no\.?\s*|number\s*|#\s*)?(?P<digits>\d{1,2})\b"
_VERB = r"(?:apply|use|do|try|take|follow|go\s+with|make)"
_ASKS = (
    # "apply suggestion 2", "please use suggestion #2 on #5"
    re.compile(rf"\b{_VERB}\s+(?:the\s+)?suggestion\s*{_NUMBER}", re.IGNORECASE),
    # "try the second suggestion"
    re.compile(
        rf"\b{_VERB}\s+(?:the\s+)?(?P<ordinal>{'|'.join(_ORDINALS)})\s+suggestion\b",
        re.IGNORECASE,
    ),
    # "suggestion 2", "suggestion 2 please" on its own
    re.compile(rf"^\W*(?:please\s+)?suggestion\s*{_NUMBER}\W*(?:please)?\W*$", re.IGNORECASE),
)
WHICH_CRITIQUE = (
    "Which critique's suggestion? Reply to the critique, or name it: 'apply suggestion 2 of #7'."
)


@dataclass(frozen=True)
class SuggestionAsk:
    number: int  # 1-based, as the critique numbers them
    rest: str  # the message without the request, where a #N may name the critique


@dataclass(frozen=True)
class Revision:
    tool: Tool
    args: ToolArgs
    piece_number: int | None  # None: the critique was of a poem pasted into a message
    instruction: str


def asked_suggestion(text: str) -> SuggestionAsk | None:
    """The suggestion a message asks to apply, if that is what it asks."""
    for pattern in _ASKS:
        found = pattern.search(text)
        if found is None:
            continue
        groups = found.groupdict()
        if groups.get("digits"):
            number = int(groups["digits"])
        else:
            number = _ORDINALS[groups["ordinal"].lower()]
        rest = (text[: found.start()] + " " + text[found.end() :]).strip()
        return SuggestionAsk(number, rest)
    return None


def plan_revision(critique: Artifact, number: int, tools: Iterable[Tool]) -> Revision:
    """Which tool revises which piece by which suggestion of `critique`; CannotRevise says why
    not in one line."""
    if critique.kind != ArtifactKind.CRITIQUE.value:
        raise CannotRevise(f"#{critique.id} is a {critique.kind}, not a critique. {WHICH_CRITIQUE}")
    suggestions = _suggestions(critique.params)
    if not suggestions:
        raise CannotRevise(f"Critique #{critique.id} has no suggestions to apply.")
    if not 1 <= number <= len(suggestions):
        raise CannotRevise(
            f"Critique #{critique.id} has suggestions 1 to {len(suggestions)}; "
            f"there is no suggestion {number}."
        )
    kind = str((critique.params.get("critiqued") or {}).get("kind", ""))
    instruction = suggestions[number - 1]
    tool, args = revising(kind, instruction, tools)
    return Revision(tool, args, critique.parent_id, instruction)


async def revision_for(
    session: AsyncSession,
    *,
    focus: Artifact | None,
    ask: SuggestionAsk,
    tools: Iterable[Tool],
    user_id: int,
    conversation_id: int,
) -> tuple[Revision, Artifact]:
    """The revision a request asks for and the piece it revises, inside the caller's
    transaction (which keeps a pasted poem as a piece when the critique was of one)."""
    if focus is None or focus.kind != ArtifactKind.CRITIQUE.value:
        raise CannotRevise(WHICH_CRITIQUE)
    revision = plan_revision(focus, ask.number, tools)
    if revision.piece_number is None:
        return revision, await _keep_pasted_poem(session, focus, user_id, conversation_id)
    piece = await visible_artifact(session, revision.piece_number, user_id)
    if piece is None:
        raise CannotRevise(
            f"#{revision.piece_number}, which critique #{focus.id} is about, is gone."
        )
    return revision, piece


async def apply_suggestion(
    turn: Turn,
    text: str,
    *,
    sessions: async_sessionmaker[AsyncSession],
    creations: Creations,
    tools: Mapping[str, Tool],
) -> Reply | None:
    """The reply to a request to apply a critique's suggestion; None when `text` is not one
    (the turn then goes on as usual)."""
    ask = asked_suggestion(text)
    if ask is None:
        return None
    async with sessions() as session, session.begin():
        user = await find_or_create_user(session, turn.platform, turn.user)
        conversation = await find_or_create_conversation(session, turn.platform, user, turn.place)
        try:
            focus = await resolve_focus(
                session,
                user_id=user.id,
                conversation_id=conversation.id,
                text=ask.rest,  # "suggestion #2" names a suggestion, not artifact #2
                reply_to=turn.reply_to,
            )
            revision, piece = await revision_for(
                session,
                focus=focus,
                ask=ask,
                tools=tools.values(),
                user_id=user.id,
                conversation_id=conversation.id,
            )
        except (ArtifactNotFound, CannotRevise) as problem:
            return Reply(str(problem), stored=False)
    request = Request(
        revision.tool, revision.args, user.id, conversation.id, text, piece, True, turn.progress
    )
    return await creations.make(request)


def _suggestions(params: Mapping[str, Any]) -> list[str]:
    listed = params.get("suggestions") or []
    texts = [item.get("text") if isinstance(item, Mapping) else item for item in listed]
    return [str(text) for text in texts if text]


async def _keep_pasted_poem(
    session: AsyncSession, critique: Artifact, user_id: int, conversation_id: int
) -> Artifact:
    poem = str(critique.params.get("poem") or "").strip()
    if not poem:
        raise CannotRevise(f"Critique #{critique.id} is not about a piece I can find.")
    form = (critique.params.get("measurements") or {}).get("form")
    return await add_artifact(
        session,
        conversation_id=conversation_id,
        creator_id=user_id,
        draft=ArtifactDraft(
            ArtifactKind.POEM,
            text=poem,
            params={"pasted": True, **({"form": form} if form else {})},
        ),
        prompt="a poem pasted for critique",
        parent=None,
        media=None,
    )
