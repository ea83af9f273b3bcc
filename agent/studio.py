"""The creative side of a turn: explicit tool commands, and free text routed to a tool.

`Studio` owns the tools and decides nothing about chat: the service asks it to handle an
explicit command (`/poem form=haiku a heron`), or, for free text, asks its router whether
a tool should answer, and falls back to plain chat when the answer is "just answer".
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from langchain_core.messages import BaseMessage
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agent.artifacts import ArtifactNotFound, resolve_focus
from agent.creations import Creations, Request
from agent.db import Artifact
from agent.scope import find_or_create_conversation, find_or_create_user
from agent.suggestions import apply_suggestion
from agent.tool_args import BadToolArgs, usage, validate_args
from agent.types import Command, Reply, Turn
from agent.uploads import Upload, UploadRefused, keep_uploads, read_uploads
from tools.base import Tool, ToolArgs

logger = logging.getLogger(__name__)

ANSWER = "answer"


@dataclass(frozen=True)
class Decision:
    """What a router made of free text: a tool with arguments, a question, or just answer."""

    choice: str  # ANSWER or a tool name
    args: ToolArgs | None = None
    question: str | None = None


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
        return await self.make(turn, tool, args, said=command_line(turn.command))

    async def decide(self, history: Sequence[BaseMessage], text: str) -> Decision:
        if self._router is None or not self.tools:
            return Decision(ANSWER)
        return await self._router.decide(history, text, list(self.tools.values()))

    async def make(
        self, turn: Turn, tool: Tool, args: ToolArgs, *, said: str, keep_said: bool = True
    ) -> Reply:
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
        request = Request(
            tool, args, user.id, conversation.id, said, focus, keep_said, turn.progress
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
