"""Two bot processes on one database both arm every session's deadlines: each deadline is
acted on and announced once, by whichever claims it first (agent/sessions/claims.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from agent.sessions.clock import SessionClock
from agent.sessions.exporting import SessionExports
from agent.store.db import (
    GroupSession,
    RoundState,
    SessionRound,
    SessionState,
    User,
    utcnow,
)
from agent.store.engine import create_engine, session_factory
from agent.store.media import MediaStore
from agent.types import Place, Reply
from tests.support.announcements import Announcements
from tests.support.studio_tools import SKETCH, VERSE
from tests.support.workshop import MakeWorkshop, Workshop

RELAY, ROUNDS, TIMED = (Place(channel_id=c, guild_id="g1", is_direct=False) for c in "abc")


class Process:
    """What one bot process has of the sessions: its own connections, clock and voice."""

    def __init__(self, database_url: str, media: MediaStore, data_dir: Path) -> None:
        self.engine = create_engine(database_url)
        sessions = session_factory(self.engine)
        self.heard = Announcements()
        exports = SessionExports(sessions, media, data_dir / "exports", limit_bytes=10 << 20)
        self.clock = SessionClock(sessions, {"test": self.heard}, media, exports)

    async def close(self) -> None:
        self.clock.close()
        await self.engine.dispose()


@pytest.fixture
async def studio(make_studio: MakeWorkshop) -> Workshop:
    """A relay turn, a round and a session's end, at three places, all due a second ago."""
    studio = make_studio([VERSE, SKETCH])
    await studio.command("/session start mode=relay turn_minutes=5 a tide", place=RELAY)
    await studio.command("/session start mode=rounds a harbour", place=ROUNDS)
    await studio.command("/session round minutes=30 a lighthouse", place=ROUNDS)
    await studio.command("/session start minutes=30 a quiet field", place=TIMED)
    for place in (RELAY, ROUNDS, TIMED):
        await studio.command("/session join", user="bob", place=place)
    late = utcnow() - timedelta(seconds=1)
    async with studio.sessions() as session, session.begin():
        await session.execute(update(GroupSession).values(turn_due_at=None, ends_at=None))
        relay, rounds, timed = (await session.execute(select(GroupSession.id))).scalars()
        await session.execute(
            update(GroupSession).where(GroupSession.id == relay).values(turn_due_at=late)
        )
        await session.execute(update(SessionRound).values(closes_at=late))
        await session.execute(
            update(GroupSession).where(GroupSession.id == timed).values(ends_at=late)
        )
    return studio


@pytest.fixture
async def processes(
    studio: Workshop, database_url: str, tmp_path: Path
) -> AsyncIterator[list[Process]]:
    both = [Process(database_url, studio.media, tmp_path) for _ in range(2)]
    yield both
    for process in both:
        await process.close()


async def test_two_processes_act_on_each_deadline_once(
    studio: Workshop, processes: list[Process]
) -> None:
    armed = await asyncio.gather(*(p.clock.rearm("test") for p in processes))
    assert armed == [3, 3]  # both hold every deadline: the turn, the round, the end
    said = await everything_said(processes, expected=3)

    by_place = {place.channel_id: reply.text for place, reply in said}
    assert len(said) == 3 and sorted(by_place) == ["a", "b", "c"]
    assert by_place["a"] == "Ada's turn ran out. It is Bob's turn now."
    assert by_place["b"].startswith("Time is up. Round 1 closed with no candidates.")
    assert by_place["c"].startswith("The session's time is up.")
    [finale] = [reply for place, reply in said if place.channel_id == "c"]
    assert finale.session_ended and finale.download is not None  # the export
    async with studio.sessions() as session:
        turn = select(User.display_name).join(GroupSession, GroupSession.turn_user_id == User.id)
        assert (await session.execute(turn)).scalar_one() == "Bob"  # passed on once, not twice
        [round_] = (await session.execute(select(SessionRound))).scalars()
        states = await session.execute(select(GroupSession.state).order_by(GroupSession.id))
        assert round_.state == RoundState.CLOSED
        assert list(states.scalars()) == [SessionState.OPEN, SessionState.OPEN, SessionState.ENDED]


async def everything_said(processes: list[Process], expected: int) -> list[tuple[Place, Reply]]:
    """What both processes announced, once `expected` announcements are in and every
    deadline either acted on is done (the other's finds nothing)."""

    async def enough() -> None:
        while sum(len(p.heard.said) for p in processes) < expected:
            await asyncio.sleep(0.01)

    await asyncio.wait_for(enough(), 10)
    await asyncio.gather(*(p.clock.settled() for p in processes))
    return [said for p in processes for said in p.heard.said]
