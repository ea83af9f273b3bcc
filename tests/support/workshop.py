"""Pytest plugin: a Workshop is an Agent with tools on a fresh database, and what it kept.

Tests that make pieces (test_studio, test_routing) build one with the `make_studio` fixture,
choosing its tools, its router or tool-calling chat model, and its job limits.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from pathlib import Path

import pytest
from langchain_core.language_models import BaseChatModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agent.chat.model import build_chat_model
from agent.chat.replies import ChatReplies
from agent.chat.tool_loop import ToolLoop
from agent.config import Settings
from agent.jobs import JobLimits, Jobs
from agent.ledger.quotas import Quotas
from agent.ledger.record import JobLedger
from agent.making.decisions import AlwaysAnswer, Router
from agent.making.studio import Studio
from agent.store.db import Artifact, Message, utcnow
from agent.store.media import MediaStore
from agent.store.memory import Memory
from agent.turns import Agent
from agent.types import Attachment, Place, Reply, Turn, UserRef
from bot.console import parse_command
from tools.contract import ModelSource, NoModels, Tool
from tools.models.text import LoadedCausalLM

Sessions = async_sessionmaker[AsyncSession]


class Workshop:
    """An agent with tools, and what it keeps."""

    def __init__(
        self,
        sessions: Sessions,
        tmp_path: Path,
        tiny_chat: LoadedCausalLM,
        tools: Sequence[Tool],
        router: Router | None = None,
        limits: JobLimits | None = None,
        tool_chat: BaseChatModel | None = None,
        max_tool_calls: int = 3,
        models: ModelSource | None = None,
        chat_model: BaseChatModel | None = None,
        quotas: Quotas | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        settings = Settings(data_dir=tmp_path, max_new_tokens=4, temperature=0.0)
        memory = Memory(tiny_chat.count_tokens)
        self.media = MediaStore(tmp_path / "media")
        self.jobs = Jobs(limits or JobLimits())
        # Every run is a job in the ledger, as in the app (quotas and clock: the ledger's).
        self.ledger = JobLedger(sessions, quotas, clock=clock)
        self.studio = Studio(
            tools=tools,
            jobs=self.jobs,
            models=models or NoModels(),
            media=self.media,
            ledger=self.ledger,
        )
        chat = tool_chat or chat_model or build_chat_model(settings, tiny_chat)
        loop = (
            None
            if tool_chat is None
            else ToolLoop(chat, self.studio, max_tool_calls=max_tool_calls)
        )
        self.agent = Agent(
            settings=settings,
            sessions=sessions,
            memory=memory,
            studio=self.studio,
            replies=ChatReplies(
                settings=settings, sessions=sessions, chat_model=chat, memory=memory
            ),
            router=router or AlwaysAnswer(),
            tool_loop=loop,
        )
        self.sessions = sessions

    async def say(
        self,
        text: str,
        user: str = "ada",
        attachments: Sequence[Attachment] = (),
        place: Place | None = None,
    ) -> Reply:
        where = PLACE if place is None else place
        turn = Turn("test", UserRef(user, user.title()), where, text, tuple(attachments))
        return await self.agent.respond(turn)

    async def command(
        self,
        line: str,
        user: str = "ada",
        attachments: Sequence[Attachment] = (),
        place: Place | None = None,
    ) -> Reply:
        turn = Turn(
            "test",
            UserRef(user, user.title()),
            PLACE if place is None else place,
            command=parse_command(line),
            attachments=tuple(attachments),
        )
        return await self.agent.respond(turn)

    async def artifacts(self) -> list[Artifact]:
        async with self.sessions() as session:
            return list((await session.execute(select(Artifact).order_by(Artifact.id))).scalars())

    async def messages(self) -> list[Message]:
        async with self.sessions() as session:
            return list((await session.execute(select(Message).order_by(Message.id))).scalars())

    def media_files(self) -> list[Path]:
        root = self.media.root
        return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


PLACE = Place(channel_id="c1", guild_id="g1", is_direct=False)
MakeWorkshop = Callable[..., Workshop]


@pytest.fixture
def make_studio(
    sessions: Sessions, tmp_path: Path, tiny_chat: LoadedCausalLM
) -> Iterator[MakeWorkshop]:
    made: list[Workshop] = []

    def build(tools: Sequence[Tool], **options: object) -> Workshop:
        studio = Workshop(sessions, tmp_path, tiny_chat, tools, **options)  # type: ignore[arg-type]
        made.append(studio)
        return studio

    yield build
    for studio in made:
        studio.jobs.shutdown()
