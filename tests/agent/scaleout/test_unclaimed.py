"""A result that arrives with nobody waiting for it (the bot was restarted while its job ran on
a worker) is stored exactly once and told to its owner at their place once; one that made
nothing is reported once; a piece stored by its turn is never stored again by a redelivered
copy; and the start-up sweep leaves a remote job's row running, since its result may come."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from agent.ledger.claim import NO_LONGER_AWAITED
from agent.ledger.interrupted import mark_interrupted
from agent.ledger.models import Job, JobState
from agent.scaleout.envelope import ResultEnvelope
from agent.scaleout.unclaimed import UnclaimedResults, on_unclaimed
from agent.store.db import Artifact, Conversation, Message, Role, User, utcnow
from agent.store.engine import create_engine, session_factory
from agent.store.memory import Memory
from agent.types import Place
from tests.support.announcements import Announcements
from tests.support.stepping import Stepping
from tests.support.studio_tools import PGM, PGM_HEADER, SKETCH
from tests.support.workshop import PLACE, MakeWorkshop, Sessions, Workshop
from tools.contract import ArtifactDraft, ArtifactKind, Media

DM = Place(is_direct=True)
FOX = "a red fox in the snow at dawn, looking back over its shoulder"


def sketch_of(prompt: str, seed: int = 0) -> ArtifactDraft:
    """What the sketch tool makes of `prompt` (the bytes a worker's result carries)."""
    pixels = hashlib.sha256(f"{seed}:{prompt}".encode()).digest() * 8
    return ArtifactDraft(
        ArtifactKind.IMAGE, media=Media(PGM_HEADER + pixels[:256], PGM), params={"seed": seed}
    )


def results(studio: Workshop, sessions: Sessions | None = None) -> UnclaimedResults:
    """This bot process's handler of unclaimed results (a second one: another process)."""
    return UnclaimedResults(
        sessions=sessions or studio.sessions,
        memory=Memory(lambda text: len(text.split())),
        media=studio.media,
        tools=studio.studio.tools,
    )


async def left_running(
    studio: Workshop,
    user: str = "ada",
    *,
    place: Place = PLACE,
    remote: bool = True,
    tool: str = "sketch",
    args: dict[str, Any] | None = None,
) -> int:
    """What a bot stopped while its job ran on a worker leaves: the person, their
    conversation, and the job's row still running, with what storing its piece needs."""
    async with studio.sessions() as session, session.begin():
        person = User(platform="test", external_id=user, display_name=user.title())
        session.add(person)
        await session.flush()
        conversation = Conversation(
            kind="direct" if place.is_direct else "channel",
            platform="test",
            guild_id=place.guild_id,
            channel_id=place.channel_id,
            owner_id=person.id,
        )
        session.add(conversation)
        await session.flush()
        job = Job(
            user_id=person.id,
            platform="test",
            guild_id=place.guild_id,
            channel_id=place.channel_id,
            thread_id=place.thread_id,
            tool=tool,
            summary=str((args or {"prompt": FOX})["prompt"]),
            state=JobState.RUNNING,
            started_at=utcnow(),
            conversation_id=conversation.id,
            request=f"/{tool} {FOX}" if args is None else f"/{tool} {args['prompt']}",
            args={"prompt": FOX, "seed": 0} if args is None else args,
            remote=remote,
        )
        session.add(job)
        await session.flush()
        return job.id


async def count(sessions: Sessions, model: type) -> int:
    async with sessions() as session:
        return (await session.execute(select(func.count()).select_from(model))).scalar_one()


async def job_row(sessions: Sessions, job_id: int) -> Job:
    async with sessions() as session:
        job = await session.get(Job, job_id)
    assert job is not None
    return job


async def test_a_piece_stored_by_its_turn_is_not_stored_again_when_its_result_comes_again(
    make_studio: MakeWorkshop,
) -> None:
    studio = make_studio([SKETCH])
    reply = await studio.command(f"/sketch {FOX}")
    [job] = [await job_row(studio.sessions, 1)]
    files, messages = studio.media_files(), await count(studio.sessions, Message)
    # What the ledger kept to store the piece without the turn, and the row the store ended.
    assert (job.state, job.request, job.args, job.remote) == (
        JobState.DONE,
        f"/sketch {FOX}",
        {"prompt": FOX, "seed": 0},
        False,
    )
    handler, heard = results(studio), Announcements()
    await handler.announce_with("test", heard)

    again = await handler.deliver(job.id, sketch_of(FOX), "made", None)

    assert reply.artifacts and not again
    assert await count(studio.sessions, Artifact) == 1
    assert await count(studio.sessions, Message) == messages
    assert studio.media_files() == files and heard.said == []


async def test_an_unclaimed_piece_is_stored_and_told_once_at_its_place(
    make_studio: MakeWorkshop,
) -> None:
    studio = make_studio([SKETCH])
    in_channel, in_dm = (
        await left_running(studio, "ada"),
        await left_running(studio, "bo", place=DM),
    )
    handler, heard = results(studio), Announcements()
    await handler.announce_with("test", heard)

    assert await handler.deliver(in_channel, sketch_of(FOX), "made", None, tool_seconds=2.5)
    assert await handler.deliver(in_dm, sketch_of(FOX, seed=7), "made", None)
    assert not await handler.deliver(in_channel, sketch_of(FOX), "made", None)  # redelivered
    after_restart = Announcements()
    assert await results(studio).announce_with("test", after_restart) == 0

    [ada_piece, bo_piece] = await studio.artifacts()
    [(place, told), (dm, told_bo)] = heard.said
    assert (place, dm) == (PLACE, DM) and after_restart.said == []
    assert told.text == (
        "Ada, your sketch ('a red fox in the snow at dawn, looking …') finished while "
        f"atelier was restarting: #{ada_piece.id}"
    )
    assert told_bo.text.startswith("Bo, your sketch") and told_bo.text.endswith(f"#{bo_piece.id}")
    [shown] = told.artifacts
    assert shown.number == ada_piece.id and shown.media_path is not None
    assert shown.media_path.read_bytes() == sketch_of(FOX).media.data  # type: ignore[union-attr]
    assert ada_piece.prompt == FOX
    job = await job_row(studio.sessions, in_channel)
    assert (job.state, job.artifact_id, job.tool_seconds) == (JobState.DONE, ada_piece.id, 2.5)
    # The history reads as if the turn had stored it: the request, then the piece.
    ada_messages = [
        m for m in await studio.messages() if m.conversation_id == ada_piece.conversation_id
    ]
    assert [(m.role, m.content, m.artifact_id) for m in ada_messages] == [
        (Role.USER, f"/sketch {FOX}", None),
        (Role.ASSISTANT, "[made a image]", ada_piece.id),
    ]


async def test_a_piece_that_came_before_the_transport_is_told_when_it_starts(
    make_studio: MakeWorkshop,
) -> None:
    studio = make_studio([SKETCH])
    job = await left_running(studio)
    handler = results(studio)
    assert await handler.deliver(job, sketch_of(FOX), "made", None)  # Discord not up yet
    heard = Announcements()

    assert await handler.announce_with("test", heard) == 1

    [(place, told)] = heard.said
    assert (
        place == PLACE and told.artifacts and "finished while atelier was restarting" in told.text
    )


async def test_an_unclaimed_failure_is_told_once_and_stores_nothing(
    make_studio: MakeWorkshop,
) -> None:
    studio = make_studio([SKETCH])
    failed, cancelled = await left_running(studio, "ada"), await left_running(studio, "bo")
    handler, heard = results(studio), Announcements()
    await handler.announce_with("test", heard)
    handle = on_unclaimed(handler, NoBytes())

    await handle(
        ResultEnvelope(
            job_id=failed, worker_id="w1", outcome="failed", message="CUDA out of memory."
        )
    )
    await handle(ResultEnvelope(job_id=failed, worker_id="w2", outcome="failed", message="again"))
    await handle(ResultEnvelope(job_id=cancelled, worker_id="w1", outcome="cancelled"))

    assert [told.text for _, told in heard.said] == [
        "Ada, your sketch ('a red fox in the snow at dawn, looking …') failed: CUDA out of "
        "memory; nothing was stored.",
        "Bo, your sketch ('a red fox in the snow at dawn, looking …') was cancelled; nothing "
        "was stored.",
    ]
    assert (
        await count(studio.sessions, Artifact) == 0 and await count(studio.sessions, Message) == 0
    )
    states = [(await job_row(studio.sessions, one)).state for one in (failed, cancelled)]
    assert states == [JobState.FAILED, JobState.CANCELLED]


class NoBytes:
    """A runner whose results carry no draft (they made nothing)."""

    async def draft_of(self, result: ResultEnvelope) -> ArtifactDraft | None:
        return None


async def test_two_processes_given_one_result_at_once_store_one_piece(
    make_studio: MakeWorkshop, database_url: str
) -> None:
    studio = make_studio([SKETCH])
    job = await left_running(studio)
    other_engine = create_engine(database_url)  # a second bot process: its own connections
    try:
        first, second = results(studio), results(studio, session_factory(other_engine))
        heard, heard_too = Announcements(), Announcements()
        await first.announce_with("test", heard)
        await second.announce_with("test", heard_too)

        stored = await asyncio.gather(
            first.deliver(job, sketch_of(FOX), "made", None),
            second.deliver(job, sketch_of(FOX), "made", None),
        )
    finally:
        await other_engine.dispose()

    assert sorted(stored) == [False, True]
    [piece] = await studio.artifacts()
    assert len(heard.said + heard_too.said) == 1
    assert piece.media_path is not None and studio.media.path(piece.media_path).exists()


async def test_a_turn_whose_job_was_reported_interrupted_meanwhile_stores_nothing(
    make_studio: MakeWorkshop,
) -> None:
    stepping = Stepping(total=2, step_s=0.0, pause_after=1)
    studio = make_studio([stepping.tool()])
    making = asyncio.create_task(studio.command("/image a lighthouse"))
    await asyncio.to_thread(stepping.wait_for, 1)
    assert await mark_interrupted(studio.sessions) == 1  # another process's start-up sweep
    stepping.release.set()

    reply = await making

    assert reply.text == NO_LONGER_AWAITED and not reply.stored
    assert await count(studio.sessions, Artifact) == 0 and studio.media_files() == []
    assert (await job_row(studio.sessions, 1)).state == JobState.INTERRUPTED


async def test_the_start_up_sweep_leaves_a_remote_job_running_until_it_waited_too_long(
    make_studio: MakeWorkshop,
) -> None:
    studio = make_studio([SKETCH])
    local, remote = (
        await left_running(studio, "ada", remote=False),
        await left_running(studio, "bo"),
    )
    stale = await left_running(studio, "cy")
    async with studio.sessions() as session, session.begin():
        old = await session.get(Job, stale)
        assert old is not None
        old.started_at = utcnow() - timedelta(hours=2)

    assert await mark_interrupted(studio.sessions, remote_patience=timedelta(hours=1)) == 2

    states = {one: (await job_row(studio.sessions, one)).state for one in (local, remote, stale)}
    assert states == {
        local: JobState.INTERRUPTED,
        remote: JobState.RUNNING,  # its result may still come
        stale: JobState.INTERRUPTED,
    }
    handler, heard = results(studio), Announcements()
    await handler.announce_with("test", heard)
    assert await handler.deliver(remote, sketch_of(FOX), "made", None)
    assert not await handler.deliver(stale, sketch_of(FOX), "made", None)  # told interrupted
    assert len(heard.said) == 1 and await count(studio.sessions, Artifact) == 1
