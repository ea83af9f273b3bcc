"""The job ledger records every tool run: on disk before the tool runs, done or failed after,
with where it ran and what was asked; /forget takes a person's jobs with them."""

from __future__ import annotations

import asyncio

from langchain_core.messages import AIMessage
from sqlalchemy import select

from agent.jobs import JobLimits
from agent.ledger.models import Job, JobState
from agent.store.retry import NOT_ANSWERING
from agent.types import Place
from tests.agent.making.test_studio import ToolCallingChat
from tests.support.studio_tools import BROKEN, SKETCH, Stall, stall_tool
from tests.support.workshop import MakeWorkshop, Sessions

THREAD = Place(channel_id="c1", guild_id="g1", thread_id="t9", is_direct=False)


async def jobs(sessions: Sessions) -> list[Job]:
    async with sessions() as session:
        return list((await session.execute(select(Job).order_by(Job.id))).scalars())


async def test_a_run_leaves_a_done_row_with_its_place_and_what_was_asked(
    make_studio: MakeWorkshop,
) -> None:
    studio = make_studio([SKETCH])
    reply = await studio.command("/sketch a red fox\n\tin   the snow", place=THREAD)
    [job] = await jobs(studio.sessions)
    assert reply.artifacts
    assert (job.state, job.tool, job.summary) == (JobState.DONE, "sketch", "a red fox in the snow")
    assert (job.platform, job.guild_id, job.channel_id, job.thread_id) == ("test", "g1", "c1", "t9")
    assert job.finished_at is not None and job.finished_at >= job.started_at
    assert job.reported_at is None


async def test_a_long_request_is_kept_as_a_short_summary(make_studio: MakeWorkshop) -> None:
    studio = make_studio([SKETCH])
    await studio.command("/sketch " + "a fox " * 100)
    [job] = await jobs(studio.sessions)
    assert len(job.summary) == 100 and job.summary.startswith("a fox a fox")
    assert job.summary.endswith("…") and "\n" not in job.summary


async def test_a_failed_tool_leaves_a_failed_row_with_the_seconds_it_ran(
    make_studio: MakeWorkshop,
) -> None:
    studio = make_studio([BROKEN])
    reply = await studio.command("/broken a sonnet")
    [job] = await jobs(studio.sessions)
    assert reply.text.startswith("Sorry, the broken tool failed") and not reply.artifacts
    assert job.state == JobState.FAILED and job.summary == "a sonnet"
    assert job.tool_seconds >= 0.01  # the tool sleeps 10 ms before it breaks
    assert await studio.artifacts() == []


async def test_the_job_is_on_disk_while_its_tool_runs(make_studio: MakeWorkshop) -> None:
    stall = Stall()
    studio = make_studio([stall_tool(stall)])
    asked = asyncio.create_task(studio.command("/stall a long note"))
    await asyncio.to_thread(stall.started.acquire)  # the tool is running in its thread
    [running] = await jobs(studio.sessions)  # what a kill -9 now would leave
    stall.release.set()
    reply = await asked
    [ended] = await jobs(studio.sessions)
    assert running.state == JobState.RUNNING and running.finished_at is None
    assert reply.artifacts and ended.state == JobState.DONE and ended.tool_seconds > 0


async def test_a_run_refused_while_in_line_is_no_job(make_studio: MakeWorkshop) -> None:
    stall = Stall()
    studio = make_studio([stall_tool(stall)], limits=JobLimits(running=1, queued=0))
    first = asyncio.create_task(studio.command("/stall one"))
    await asyncio.to_thread(stall.started.acquire)
    refused = await studio.command("/stall two")  # over the person's jobs at a time
    stall.release.set()
    await first
    assert "pieces in the works" in refused.text
    assert [job.summary for job in await jobs(studio.sessions)] == ["one"]


async def test_forget_takes_the_persons_jobs_and_leaves_others(make_studio: MakeWorkshop) -> None:
    studio = make_studio([SKETCH])
    await studio.command("/sketch a heron", user="ada")
    await studio.command("/sketch a crane", user="bob")
    await studio.command("/forget yes", user="ada")
    assert [job.summary for job in await jobs(studio.sessions)] == ["a crane"]


async def test_a_database_gone_before_the_job_starts_is_one_line_and_no_run(
    make_studio: MakeWorkshop,
) -> None:
    studio = make_studio([SKETCH])

    def gone() -> object:
        raise ConnectionRefusedError("the server went away")

    studio.ledger._sessions = gone  # noqa: SLF001 - the ledger's database, and only it, gone
    reply = await studio.command("/sketch a heron")
    assert reply.text == NOT_ANSWERING and not reply.artifacts
    assert studio.media_files() == [] and await studio.artifacts() == []  # the tool never ran


async def test_a_piece_made_for_a_chat_model_that_then_fails_is_not_stored_and_its_job_failed(
    make_studio: MakeWorkshop,
) -> None:
    # The model calls the sketch tool, then has nothing more to say (its script runs out).
    call = AIMessage("", tool_calls=[{"name": "sketch", "args": {"prompt": "a heron"}, "id": "c"}])
    studio = make_studio([SKETCH], tool_chat=ToolCallingChat(messages=iter([call])))
    reply = await studio.say("draw me a heron")
    assert not reply.stored and await studio.artifacts() == []
    assert studio.media_files() == []  # its file went with it
    [job] = await jobs(studio.sessions)
    assert job.state == JobState.FAILED and job.request == "draw me a heron"
