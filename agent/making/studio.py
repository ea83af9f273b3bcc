"""The creative side of a turn: explicit tool commands, and free text routed to a tool.

`Studio` owns the tools and decides nothing about chat: the service asks it to handle an
explicit command (`/poem form=haiku a heron`), or, for free text, asks its router whether
a tool should answer, and falls back to plain chat when the answer is "just answer". A
change to the piece in focus ("make it darker") goes to the tool of that piece's kind.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from langchain_core.messages import BaseMessage
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agent.making.creations import Creations, Request
from agent.making.revisions import CannotRevise, piece_to_revise, revising
from agent.making.suggestions import apply_suggestion
from agent.making.tool_args import BadToolArgs, usage, validate_args
from agent.making.uploads import Upload, UploadRefused, keep_uploads, read_uploads
from agent.store.artifacts import ArtifactNotFound, mentioned_number, resolve_focus
from agent.store.db import Artifact
from agent.store.scope import find_or_create_conversation, find_or_create_user
from agent.types import Command, Reply, Turn
from tools.catalog import JUST_ANSWER, REVISE_FOCUS
from tools.contract import Tool, ToolArgs

logger = logging.getLogger(__name__)

# The router's choices that are not tools: reply in words, or change the piece in focus
# without naming its kind ("make it darker").
ANSWER = JUST_ANSWER.name
REVISE = REVISE_FOCUS.name


@dataclass(frozen=True)
class Decision:
    """What a router made of free text: a tool with arguments, a question, or just answer."""

    choice: str  # ANSWER or a tool name
    args: ToolArgs | None = None
    question: str | None = None


@dataclass(frozen=True)
class _Place:
    user_id: int
    conversation_id: int
    focus: Artifact | None


class Router(Protocol):
    async def decide(
        self, history: Sequence[BaseMessage], text: str, tools: Sequence[Tool]
    ) -> Decision: ...


class Studio:
    def __init__(
        self,
        *,
        tools: Sequence[Tool],
        creations: Creations,
        sessions: async_sessionmaker[AsyncSession],
        router: Router | None = None,
    ) -> None:
        self.tools = {tool.name: tool for tool in tools}
        self._creations = creations
        self._sessions = sessions
        self._router = router

    def handles(self, command: Command) -> bool:
        return command.name in self.tools

    async def command(self, turn: Turn) -> Reply:
        assert turn.command is not None
        tool = self.tools[turn.command.name]
        if turn.command.text.strip() == "help" and not turn.command.args:
            return Reply(usage(tool), stored=False)
        try:
            args = validate_args(tool, turn.command.args, turn.command.text)
        except BadToolArgs as problem:
            return Reply(str(problem), stored=False)
        said = command_line(turn.command)
        # A piece named as the command's text (Discord's `piece` option) is the one built on,
        # even when an option's words name another ("prompt: a variation of #12").
        text = turn.command.text
        names_focus = text if mentioned_number(text) is not None else said
        return await self.make(turn, tool, args, said=said, names_focus=names_focus)

    async def decide(self, history: Sequence[BaseMessage], text: str) -> Decision:
        if self._router is None or not self.tools:
            return Decision(ANSWER)
        return await self._router.decide(history, text, list(self.tools.values()))

    async def make(
        self,
        turn: Turn,
        tool: Tool,
        args: ToolArgs,
        *,
        said: str,
        keep_said: bool = True,
        names_focus: str | None = None,
    ) -> Reply:
        """Run `tool` on the piece in focus: the one uploaded, replied to, named as #N in
        `names_focus` (default: what was said), or the latest."""
        place = await self._place(turn, said if names_focus is None else names_focus)
        if isinstance(place, Reply):
            return place
        focus, user_id, conversation_id = place.focus, place.user_id, place.conversation_id
        request = Request(
            tool, args, user_id, conversation_id, said, focus, keep_said, turn.progress
        )
        return await self._creations.make(request)

    async def revise(self, turn: Turn, text: str) -> Reply | None:
        """A change to the piece in focus ("make it darker"), made by the tool of its kind with
        these words (agent/making/revisions.py). None when no piece is in focus: the words are
        then chat ("shorter, please" after a long answer)."""
        place = await self._place(turn, text)
        if isinstance(place, Reply):
            return place
        if place.focus is None:
            return None
        try:
            async with self._sessions() as session:
                piece = await piece_to_revise(session, place.focus, place.user_id)
            tool, args = revising(piece.kind, text, self.tools.values())
        except CannotRevise as problem:
            return Reply(str(problem), stored=False)
        request = Request(
            tool, args, place.user_id, place.conversation_id, text, piece, True, turn.progress
        )
        return await self._creations.make(request)

    async def apply_suggestion(self, turn: Turn, text: str) -> Reply | None:
        """'apply suggestion 2' while a critique is in focus: the critiqued piece, revised by
        that suggestion. None when the text asks no such thing."""
        return await apply_suggestion(
            turn, text, sessions=self._sessions, creations=self._creations, tools=self.tools
        )

    async def receive(self, turn: Turn, said: str) -> Reply:
        """Files sent with nothing for a tool to do: kept, so the next request can use them."""
        try:
            uploads = await read_uploads(turn.attachments, self.tools.values())
        except UploadRefused as refused:
            return Reply(str(refused), stored=False)
        async with self._sessions() as session, session.begin():
            user = await find_or_create_user(session, turn.platform, turn.user)
            conversation = await find_or_create_conversation(
                session, turn.platform, user, turn.place
            )
        return await self._creations.keep_uploads(uploads, user.id, conversation.id, said)

    async def _place(self, turn: Turn, said: str) -> _Place | Reply:
        """Who asks, where, and the piece the turn builds on (uploads kept first); a Reply
        when the uploads or a named #N cannot be used."""
        try:
            uploads = await read_uploads(turn.attachments, self.tools.values())
        except UploadRefused as refused:
            return Reply(str(refused), stored=False)
        try:
            async with self._sessions() as session, session.begin():
                user = await find_or_create_user(session, turn.platform, turn.user)
                conversation = await find_or_create_conversation(
                    session, turn.platform, user, turn.place
                )
                focus = await self._focus(session, turn, said, uploads, user.id, conversation.id)
        except ArtifactNotFound as missing:
            return Reply(str(missing), stored=False)
        return _Place(user.id, conversation.id, focus)

    async def _focus(
        self,
        session: AsyncSession,
        turn: Turn,
        said: str,
        uploads: Sequence[Upload],
        user_id: int,
        conversation_id: int,
    ) -> Artifact | None:
        """The piece this turn builds on: what the person just uploaded, else the one they
        replied to, named, or made last."""
        if uploads:
            kept = await keep_uploads(
                session,
                self._creations.media,
                uploads,
                user_id=user_id,
                conversation_id=conversation_id,
            )
            return kept[-1]
        return await resolve_focus(
            session,
            user_id=user_id,
            conversation_id=conversation_id,
            text=said,
            reply_to=turn.reply_to,
        )


def command_line(command: Command) -> str:
    """The command as a person would type it, for the history."""
    options = " ".join(f"{key}={value}" for key, value in command.args.items())
    return " ".join(part for part in (f"/{command.name}", options, command.text) if part)
