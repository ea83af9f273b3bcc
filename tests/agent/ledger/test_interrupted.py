"""After a crash: jobs left running become interrupted when atelier starts again, and each is
told once to its owner, at its place, when the platform's transport is back."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import select

from agent.config import Settings
from agent.factory import open_agent
from agent.ledger.interrupted import mark_interrupted
from agent.ledger.models import Job, JobState
from agent.store.db import User, utcnow
from agent.store.engine import create_engine, session_factory
from agent.turns import Agent
from agent.types import Place, Reply, Turn, UserRef
from tests.support.announcements import Announcements
from tests.support.workshop import MakeWorkshop, Sessions

THREAD = Place(channel_id="c1", guild_id="g1", thread_id="t9", is_direct=False)
FOX = "a red fox in the snow at dawn, looking back over its shoulder"


async def left_by_a_kill(
    sessions: Sessions, user: str, *, platform: str = "test", state: str = JobState.RUNNING
) -> None:
    """What a process killed mid-run leaves: the person, and their job's row still running."""
    async with sessions() as session, session.begin():
        person = User(platform=platform, external_id=user, display_name=user.title())
        session.add(person)
        await session.flush()
        session.add(
            Job(
                user_id=person.id,
                platform=platform,
                guild_id=THREAD.guild_id,
                channel_id=THREAD.channel_id,
                thread_id=THREAD.thread_id,
                tool="image",
                summary=FOX,
                state=state,
                started_at=utcnow(),
            )
        )


async def settled(agent: Agent) -> None:
    """Wait for what announce_with set going (the re-arming and the reports) to finish."""
    await asyncio.gather(*agent._rearming)  # noqa: SLF001 - the test waits on the agent's work


async def states(sessions: Sessions) -> dict[str, str]:
    async with sessions() as session:
        query = select(User.external_id, Job.state).join(User, Job.user_id == User.id)
        return {name: state for name, state in await session.execute(query)}


async def test_an_interrupted_job_is_told_once_to_its_owner_at_its_place(
    make_studio: MakeWorkshop,
) -> None:
    before = make_studio([])
    await left_by_a_kill(before.sessions, "ada")
    await left_by_a_kill(before.sessions, "bob", state=JobState.DONE)  # finished: nothing to tell
    await left_by_a_kill(before.sessions, "cy", platform="discord")  # told when Discord is back
    assert await mark_interrupted(before.sessions) == 2  # what the next start does first

    after, heard = make_studio([]), Announcements()
    after.agent.announce_with("test", heard)
    await settled(after.agent)
    again, heard_again = make_studio([]), Announcements()  # and another restart
    again.agent.announce_with("test", heard_again)
    await settled(again.agent)

    [(place, reply)] = heard.said
    assert place == THREAD
    assert reply.text == (
        "Ada, your image ('a red fox in the snow at dawn, looking …') was interrupted when "
        "atelier stopped; nothing was stored. Ask again when you like."
    )
    assert heard_again.said == []
    assert await states(after.sessions) == {
        "ada": JobState.INTERRUPTED,
        "bob": JobState.DONE,
        "cy": JobState.INTERRUPTED,
    }


async def test_a_place_that_cannot_be_told_does_not_keep_the_others_waiting(
    make_studio: MakeWorkshop,
) -> None:
    studio = make_studio([])
    await left_by_a_kill(studio.sessions, "ada")
    await left_by_a_kill(studio.sessions, "bob")
    await mark_interrupted(studio.sessions)
    heard: list[str] = []

    async def announce(place: Place, reply: Reply) -> None:
        if reply.text.startswith("Ada"):
            raise ConnectionError("the thread is gone")
        heard.append(reply.text)

    studio.agent.announce_with("test", announce)
    await settled(studio.agent)
    assert [text.split(",")[0] for text in heard] == ["Bob"]


async def test_starting_atelier_marks_jobs_left_running_interrupted(
    database_url: str, tmp_path: Path, models_cache_dir: Path, tiny_chat: object
) -> None:
    settings = Settings(
        data_dir=tmp_path,
        database_url=database_url,
        chat_model="tiny:chat",
        models_dir=models_cache_dir,
        max_new_tokens=4,
    )
    async with open_agent(settings) as agent:  # the first run: it is killed mid-job
        await agent.respond(Turn("test", UserRef("ada", "Ada"), THREAD, "hello"))
    engine = create_engine(database_url)
    sessions = session_factory(engine)
    async with sessions() as session, session.begin():
        ada = (await session.execute(select(User))).scalar_one()
        session.add(
            Job(user_id=ada.id, platform="test", tool="image", summary="a heron", state="running")
        )
    async with open_agent(settings) as agent:  # the restart
        heard = Announcements()
        agent.announce_with("test", heard)
        _, reply = await heard.first()
        await settled(agent)
    # Only the job left running (the tiny chat model may route "hello" to a tool of its own,
    # which ended as it did in the first run).
    async with sessions() as session:
        heron = (await session.execute(select(Job).where(Job.summary == "a heron"))).scalar_one()
    assert heron.state == JobState.INTERRUPTED
    await engine.dispose()
    assert reply.text.startswith("Ada, your image ('a heron') was interrupted")
