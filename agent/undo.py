"""/undo: the previous version of the piece in focus becomes the focus again, in that
conversation; nothing is deleted. Also what free text counts as asking for it ("undo",
"撤销", "go back to the previous version"), read here and nowhere else.

The focus is stored on the conversation (conversations.focus_artifact_id) and read by
resolve_focus after a reply and a named #N; storing a new piece there clears it, so "the
latest" applies again. Undo again goes one further back. Redo is nothing new: naming the later
version (`make #14 darker`, a reply to it) works on it, as any #N does.
"""

from __future__ import annotations

import re
from dataclasses import replace

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agent.account import piece_named
from agent.sessions.store import conversation_here
from agent.store.artifacts import ArtifactNotFound, resolve_focus
from agent.store.db import Artifact, Conversation
from agent.store.people import find_user
from agent.types import Command, Reply, Turn

UNDO_COMMAND = "undo"
NOTHING_MADE = "Nothing to undo here yet: nothing has been made in this conversation."

# The whole message, so "undo the blue and make it red" stays a request for a tool.
_SPOKEN = re.compile(
    r"\s*(?:undo(?: that| it| the last (?:change|version))?"
    r"|go back(?: to the (?:previous|last|earlier) version)?"
    r"|撤销|撤回|撤销上一步|回到上一个版本|返回上一个版本)"
    r"\s*[.!。！]?\s*",
    re.IGNORECASE,
)


def spoken_undo(turn: Turn) -> Turn:
    """The turn as /undo when its free text is only a request to undo; else unchanged."""
    if turn.command is not None or turn.attachments or not _SPOKEN.fullmatch(turn.text):
        return turn
    return replace(turn, command=Command(UNDO_COMMAND, text=turn.text))


class UndoCommands:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def run(self, turn: Turn) -> Reply:
        assert turn.command is not None
        async with self._sessions() as session, session.begin():
            said = await _undo(session, turn, piece_named(turn.command))
        return Reply(said, stored=False, private=True)


async def _undo(session: AsyncSession, turn: Turn, piece: int | None) -> str:
    user = await find_user(session, turn.platform, turn.user.external_id)
    conversation = None
    if user is not None:
        conversation, _ = await conversation_here(session, turn.platform, user, turn.place)
    if user is None or conversation is None:
        return str(ArtifactNotFound(piece)) if piece is not None else NOTHING_MADE
    try:
        focus = await resolve_focus(
            session,
            user_id=user.id,
            conversation_id=conversation.id,
            piece=piece,
            reply_to=turn.reply_to,
        )
    except ArtifactNotFound as missing:
        return str(missing)
    if focus is None:
        return NOTHING_MADE
    return await _step_back(session, conversation, focus)


async def _step_back(session: AsyncSession, conversation: Conversation, focus: Artifact) -> str:
    if focus.root_id is None or focus.parent_id is None:
        return f"#{focus.id} is the first version of its piece: there is nothing before it."
    previous = await session.get(Artifact, focus.parent_id)
    if previous is None or previous.conversation_id != conversation.id:
        return f"#{focus.id} was made in another conversation: undo it there."
    conversation.focus_artifact_id = previous.id
    return (
        f"Back to #{previous.id} (version {previous.version}): your next change starts from "
        f"it. Nothing was deleted: #{focus.id} is still there; name it to work on it again."
    )
