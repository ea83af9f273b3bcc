"""Faults survived, through the fake Discord and a real PostgreSQL: four people ask at once
while one thing goes wrong, and each is answered or told why, exactly once, with nothing
half-stored afterwards (tests/support/half_stored.py).

The faults: a tool that raises, CUDA out of memory (retried once by agent/jobs.py), a tool past
its timeout, the database connection dropped mid-turn (pg_terminate_backend: retried once,
then one line), the media store out of space, Discord answering 429s and 5xx errors, the
gateway connection dropped mid-conversation (the client resumes and the fake replays what it
missed) and an invalid session (the client identifies again).
"""

from __future__ import annotations

import asyncio
import errno
import os
import threading
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import torch
from langchain_core.messages import BaseMessage

import agent.scope
import agent.store.media
import agent.writes
from agent.config import Settings
from agent.making.decisions import ANSWER, Decision
from agent.store.media import MEDIA_UNWRITABLE
from agent.store.retry import NOT_ANSWERING
from bot.discord.client import AtelierBot
from tests.conftest import POSTGRES_URL
from tests.support.fake_discord import FakeDiscord, Payload, SentMessage
from tests.support.half_stored import half_stored
from tests.support.pg import temporary_database
from tests.support.pg_faults import ConnectionDropper, asyncpg_dsn
from tests.support.studio_tools import BROKEN, SKETCH, Stall, VerseArgs, stall_tool
from tests.support.workshop import MakeWorkshop, Workshop
from tools.contract import ArtifactDraft, ArtifactKind, Tool, ToolContext

PEOPLE = ("ada", "bob", "cy", "dee")
ANSWER_TIMEOUT_S = 20.0


@pytest.fixture
def database_url() -> Iterator[str]:
    """PostgreSQL only: the issue asks for these faults against a real server."""
    if POSTGRES_URL is None:
        pytest.skip("ATELIER_TEST_POSTGRES_URL not set")
    with temporary_database(POSTGRES_URL) as url:
        yield url


class FirstWord:
    """A router that reads 'tool prompt' (the tool named first) and sends the rest to it."""

    async def decide(
        self, history: Sequence[BaseMessage], text: str, tools: Sequence[Tool]
    ) -> Decision:
        name, _, prompt = text.partition(" ")
        tool = next((tool for tool in tools if tool.name == name), None)
        if tool is None:
            return Decision(ANSWER)
        return Decision(name, tool.args.model_validate({"prompt": prompt}))


class OutOfMemoryOnFirstTry:
    """An image tool that runs out of GPU memory on the first try of a prompt with 'tight'
    in it (the retry after emptying the cache works), and on every try of one with 'huge'."""

    def __init__(self) -> None:
        self._tried: set[str] = set()
        self._lock = threading.Lock()

    def run(self, args: VerseArgs, context: ToolContext) -> ArtifactDraft:
        with self._lock:
            first = args.prompt not in self._tried
            self._tried.add(args.prompt)
        if (first and "tight" in args.prompt) or "huge" in args.prompt:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return ArtifactDraft(ArtifactKind.IMAGE, text=f"painted {args.prompt}")

    def tool(self) -> Tool:
        return Tool("big", "Needs a lot of memory.", ArtifactKind.IMAGE, VerseArgs, self.run)


class Crowd:
    """The bot on the fake Discord, and four people: Ada and Bob in its first channel, Cy and
    Dee in its second."""

    def __init__(self, fake: FakeDiscord, workshop: Workshop) -> None:
        self.fake = fake
        self.workshop = workshop
        self.guild = fake.guilds[0]
        self.channels = self.guild.channel_ids
        self.people = {name: fake.user(name) for name in PEOPLE}
        self.asked: list[Payload] = []

    def message(self, name: str, text: str) -> Payload:
        me = self.fake.bot_user
        return self.fake.message(
            self.people[name],
            f"<@{me['id']}> {text}",
            channel_id=self.channels[PEOPLE.index(name) // 2],
            guild_id=self.guild.id,
            mentions=(me,),
        )

    async def ask(self, said: dict[str, str]) -> list[Payload]:
        """Each person says their line, all at once."""
        asked = [self.message(name, text) for name, text in said.items()]
        self.asked += asked
        for payload in asked:
            await self.fake.send_message(payload)
        return asked

    async def answers(self, asked: Sequence[Payload]) -> dict[str, SentMessage]:
        """Each person's answer, by name, once every one has one."""
        await self.fake.wait_for(
            lambda: all(self.replies_to(m) for m in asked), timeout=ANSWER_TIMEOUT_S
        )
        return {m["author"]["username"]: self.replies_to(m)[0] for m in asked}

    def replies_to(self, asked: Payload) -> list[SentMessage]:
        return [sent for sent in self.fake.sent if sent.replies_to == asked["id"]]

    async def check(self) -> None:
        """Every message answered exactly once, nothing half-stored."""
        answered = {m["id"]: len(self.replies_to(m)) for m in self.asked}
        assert set(answered.values()) == {1}, answered
        assert await half_stored(self.workshop.sessions, self.workshop.media) == []


Play = Callable[..., Any]


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    fake = FakeDiscord(heartbeat_interval_ms=500)
    fake.add_guild(channels=("general", "studio"))
    await fake.start()
    yield fake
    await fake.close()


@pytest.fixture
def play(fake: FakeDiscord, make_studio: MakeWorkshop, tmp_path: Path) -> Play:
    """`async with play(tools) as crowd:` runs the bot over a Workshop with those tools,
    routed by their first word; on leaving, the bot stops and the crowd is checked."""

    @asynccontextmanager
    async def run(tools: Sequence[Tool]) -> AsyncIterator[Crowd]:
        workshop = make_studio(list(tools), router=FirstWord())
        settings = Settings(
            data_dir=tmp_path, discord_api_base=fake.api_base, discord_gateway_url=fake.gateway_url
        )
        bot = AtelierBot(agent=workshop.agent, settings=settings, guild_ready_timeout=0.05)
        task = asyncio.create_task(bot.start(fake.token))
        crowd = Crowd(fake, workshop)
        try:
            await asyncio.wait_for(bot.wait_until_ready(), 10)
            yield crowd
        finally:
            await bot.close()
            await task
        await crowd.check()

    return run


def four_sketches(*prompts: str) -> dict[str, str]:
    return {name: f"sketch {prompt}" for name, prompt in zip(PEOPLE, prompts, strict=True)}


async def test_a_tool_that_raises_is_told_to_its_askers_and_keeps_nothing(play: Play) -> None:
    async with play([SKETCH, BROKEN]) as crowd:
        asked = await crowd.ask(
            {"ada": "broken a", "bob": "sketch a door", "cy": "broken c", "dee": "sketch a gate"}
        )
        answers = await crowd.answers(asked)

    for name in ("ada", "cy"):
        assert answers[name].content.startswith("Sorry, the broken tool failed (ref ")
        assert answers[name].content.endswith(
            "Nothing was stored; the conversation carries on as before."
        )
        assert answers[name].files == ()
    assert all(answers[name].files for name in ("bob", "dee"))
    assert [a.prompt for a in await crowd.workshop.artifacts()].count("a door") == 1


async def test_out_of_gpu_memory_is_retried_once_then_told(play: Play) -> None:
    big = OutOfMemoryOnFirstTry()
    async with play([big.tool()]) as crowd:
        asked = await crowd.ask(
            {
                "ada": "big a tight heron",
                "bob": "big a crane",
                "cy": "big a huge whale",
                "dee": "big a tight ox",
            }
        )
        answers = await crowd.answers(asked)

    for name, prompt in (("ada", "a tight heron"), ("bob", "a crane"), ("dee", "a tight ox")):
        assert answers[name].content.startswith(f"painted {prompt}")
    assert answers["cy"].content.startswith("Sorry, the big tool failed (ref ")
    assert len(await crowd.workshop.artifacts()) == 3


async def test_a_tool_past_its_timeout_is_stopped_and_told(play: Play) -> None:
    stall = Stall()  # never released: every run waits until it is cancelled
    async with play([stall_tool(stall, timeout_s=0.3)]) as crowd:
        asked = await crowd.ask({name: f"stall {name}" for name in PEOPLE})
        answers = await crowd.answers(asked)

    for answer in answers.values():
        assert answer.content.startswith("The stall tool took longer than 0.3 s and was stopped.")
    assert await crowd.workshop.artifacts() == []


async def test_a_database_connection_dropped_mid_turn_is_retried_once_then_told(
    play: Play, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    dsn = asyncpg_dsn(database_url)
    # Ada's scope, and each piece's store transaction, lose their connection: once for Ada,
    # Bob and Dee, whose retries go through; twice for Cy, who is told.
    storing = ConnectionDropper(dsn, {"a door": 1, "a gate": 1, "a well": 2, "a roof": 1})
    monkeypatch.setattr(
        agent.writes,
        "add_artifact",
        storing.before(agent.writes.add_artifact, key=lambda **piece: piece["prompt"]),
    )
    async with play([SKETCH]) as crowd:
        reading = ConnectionDropper(dsn, {crowd.people["ada"]["id"]: 1})
        monkeypatch.setattr(
            agent.scope,
            "find_or_create_user",
            reading.before(agent.scope.find_or_create_user, key=lambda _, user: user.external_id),
        )
        asked = await crowd.ask(four_sketches("a door", "a gate", "a well", "a roof"))
        answers = await crowd.answers(asked)

    assert sum(reading.dropped.values()) == 1 and sum(storing.dropped.values()) == 5
    assert all(answers[name].files for name in ("ada", "bob", "dee"))
    assert (answers["cy"].content, answers["cy"].files) == (NOT_ANSWERING, ())
    assert sorted(a.prompt for a in await crowd.workshop.artifacts()) == [
        "a door",
        "a gate",
        "a roof",
    ]


async def test_a_full_disk_is_one_line_to_everyone_and_nothing_is_stored(
    play: Play, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def disk_full(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    async with play([SKETCH]) as crowd:
        monkeypatch.setattr(agent.store.media.os, "fsync", disk_full)
        full = await crowd.answers(await crowd.ask(four_sketches("a", "b", "c", "d")))
        monkeypatch.undo()
        after = await crowd.answers(await crowd.ask({"ada": "sketch a door"}))

    assert {answer.content for answer in full.values()} == {MEDIA_UNWRITABLE}
    assert after["ada"].files
    assert [a.prompt for a in await crowd.workshop.artifacts()] == ["a door"]
    told = [r.getMessage() for r in caplog.records if r.name == "agent.store.media"]
    assert len(told) == 4
    assert f"cannot write to {crowd.workshop.media.root}" in told[0]
    assert "No space left on device" in told[0]


async def test_bursts_of_429s_and_5xx_errors_are_retried_until_everyone_is_answered(
    play: Play, caplog: pytest.LogCaptureFixture
) -> None:
    """discord.py retries a 429 and a 500 or 502 itself (five tries in all per request); a 503
    it gives up at once, so the bot sends that part again (bot/discord/outages.py)."""
    async with play([SKETCH]) as crowd:
        general, studio = crowd.channels
        crowd.fake.inject_5xx(general, 500)
        crowd.fake.inject_429(general, retry_after=0.05, times=2)
        crowd.fake.inject_5xx(studio, 502, 503)
        crowd.fake.inject_429(studio, retry_after=0.05)
        answers = await crowd.answers(await crowd.ask(four_sketches("a", "b", "c", "d")))

    assert all(answer.files for answer in answers.values())
    assert crowd.fake.injected_left() == 0  # every injected error was met, and retried
    for channel in (general, studio):
        posts = [r for r in crowd.fake.requests if r == ("POST", f"/channels/{channel}/messages")]
        assert len(posts) == 2 + 3  # two answers, after three errors
    assert any("503 Service Unavailable" in r.getMessage() for r in caplog.records)


async def test_a_gateway_disconnect_mid_conversation_is_resumed_and_nothing_missed(
    play: Play,
) -> None:
    async with play([SKETCH]) as crowd:
        fake = crowd.fake
        before = await crowd.ask({"ada": "sketch a", "bob": "sketch b"})
        seen = fake.sequence
        await fake.drop_connection()  # while Ada's and Bob's turns are under way
        during = await crowd.ask({"cy": "sketch c", "dee": "sketch d"})  # sent while away
        await fake.wait_until_resumed()
        answers = await crowd.answers([*before, *during])

    [resume] = fake.resumes
    assert resume["session_id"] == fake.session_id and resume["seq"] == seen
    assert len(fake.identifies) == 1  # resumed, not identified again
    assert all(answer.files for answer in answers.values())


async def test_an_invalid_session_makes_the_client_identify_again(play: Play) -> None:
    async with play([SKETCH]) as crowd:
        fake = crowd.fake
        first = await crowd.answers(await crowd.ask({"ada": "sketch a", "bob": "sketch b"}))
        await fake.invalidate_session()
        await fake.wait_until_identified_again(2)
        then = await crowd.answers(await crowd.ask({"cy": "sketch c", "dee": "sketch d"}))

    assert [i["token"] for i in fake.identifies] == [fake.token, fake.token]
    assert fake.session_id == "fake-session-2"
    assert all(answer.files for answer in {**first, **then}.values())


async def test_a_resumable_invalid_session_is_resumed_with_nothing_missed(play: Play) -> None:
    async with play([SKETCH]) as crowd:
        fake = crowd.fake
        first = await crowd.ask({"ada": "sketch a", "bob": "sketch b"})
        await fake.invalidate_session(resumable=True)
        then = await crowd.ask({"cy": "sketch c", "dee": "sketch d"})  # before the resume
        await fake.wait_until_resumed()
        answers = await crowd.answers([*first, *then])

    assert len(fake.identifies) == 1 and len(fake.resumes) == 1
    assert all(answer.files for answer in answers.values())
