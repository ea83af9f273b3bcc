"""Quotas from the ledger: a person over their jobs per hour, a server over its jobs per hour,
or a person over their tool seconds per day is told in one line when they may ask again;
nothing is made or stored, and nobody else is held back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from agent.ledger.models import Job, JobState
from agent.ledger.quotas import Quotas
from agent.store.db import User
from agent.types import Place
from tests.support.studio_tools import SKETCH
from tests.support.workshop import MakeWorkshop, Sessions

START = datetime(2026, 12, 7, 14, 0, tzinfo=UTC)
DM = Place(channel_id="dm-carol", is_direct=True)
OTHER_SERVER = Place(channel_id="c7", guild_id="g2", is_direct=False)


class Clock:
    """The ledger's time, moved on by the test."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


async def job_count(sessions: Sessions) -> int:
    async with sessions() as session:
        return len((await session.execute(select(Job.id))).all())


async def test_a_person_over_their_hour_is_told_when_it_resets(
    make_studio: MakeWorkshop,
) -> None:
    clock = Clock(START)
    studio = make_studio([SKETCH], quotas=Quotas(person_jobs_per_hour=2), clock=clock)
    await studio.command("/sketch a fox", user="ada")  # 14:00
    clock.now = START + timedelta(minutes=32)
    await studio.command("/sketch a hare", user="ada")  # 14:32
    clock.now = START + timedelta(minutes=50)
    refused = await studio.command("/sketch a wolf", user="ada")
    others = await studio.command("/sketch a wolf", user="bob")  # Bob's hour is his own
    assert refused.text == (
        "You have made 2 pieces in the past hour, the most allowed here; "
        "you can ask again at 15:00 UTC (in about 10 min)."
    )
    assert not refused.artifacts and not refused.stored and others.artifacts
    assert await job_count(studio.sessions) == 3  # the refused one never started
    assert [m.content for m in await studio.messages()].count("/sketch a wolf") == 1  # Bob's
    clock.now = START + timedelta(hours=1, seconds=1)  # the 14:00 piece has aged out
    assert (await studio.command("/sketch a wolf", user="ada")).artifacts


async def test_a_server_over_its_hour_holds_back_its_members_only(
    make_studio: MakeWorkshop,
) -> None:
    clock = Clock(START + timedelta(seconds=20))
    studio = make_studio([SKETCH], quotas=Quotas(server_jobs_per_hour=2), clock=clock)
    await studio.command("/sketch a fox", user="ada")
    await studio.command("/sketch a hare", user="bob")
    refused = await studio.command("/sketch a wolf", user="carol")  # same server, g1
    in_a_dm = await studio.command("/sketch a wolf", user="carol", place=DM)
    elsewhere = await studio.command("/sketch a wolf", user="dave", place=OTHER_SERVER)
    assert refused.text == (
        "This server has made 2 pieces in the past hour, the most allowed here; "
        "you can ask again at 15:01 UTC (in about 61 min)."  # 15:00:20, to the minute up
    )
    assert not refused.artifacts and in_a_dm.artifacts and elsewhere.artifacts


async def add_job(sessions: Sessions, user_id: int, started_at: datetime, seconds: float) -> None:
    async with sessions() as session, session.begin():
        session.add(
            Job(
                user_id=user_id,
                platform="test",
                tool="sketch",
                summary="a long render",
                state=JobState.DONE,
                started_at=started_at,
                finished_at=started_at,
                tool_seconds=seconds,
            )
        )


async def test_tool_seconds_per_day_reset_as_old_runs_age_out(make_studio: MakeWorkshop) -> None:
    clock = Clock(START)
    quotas = Quotas(person_tool_seconds_per_day=600)
    studio = make_studio([SKETCH], quotas=quotas, clock=clock)
    await studio.command("/sketch a first light", user="ada")  # Ada exists now
    async with studio.sessions() as session:
        ada = (await session.execute(select(User.id).where(User.external_id == "ada"))).scalar()
    assert ada is not None
    await add_job(studio.sessions, ada, START - timedelta(hours=23), 400)  # 15:00 yesterday
    await add_job(studio.sessions, ada, START - timedelta(hours=2), 300)
    refused = await studio.command("/sketch a last light", user="ada")
    assert refused.text.startswith("Your pieces have used 700 s of tool time in the past day")
    assert refused.text.endswith(
        "600 s is the most allowed here; you can ask again at 15:00 UTC (in about 60 min)."
    )
    assert (await studio.command("/sketch a last light", user="bob")).artifacts
    clock.now = START + timedelta(hours=1, minutes=1)  # yesterday's 400 s have aged out
    assert (await studio.command("/sketch a last light", user="ada")).artifacts


async def test_no_quota_set_limits_nothing(make_studio: MakeWorkshop) -> None:
    studio = make_studio([SKETCH], clock=Clock(START))
    replies = [await studio.command(f"/sketch fox {n}") for n in range(12)]
    assert all(reply.artifacts for reply in replies)
