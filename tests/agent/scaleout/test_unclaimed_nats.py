"""A bot stopped while its job runs on a worker: after it comes back, the result that waited
in NATS is stored once and its owner told at their place (the real NATS server; the worker in
this process, the bot's stop and restart two runners with one bot id)."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

from agent.cancelling.running import current_job
from agent.ledger.models import Job, JobState
from agent.scaleout.runner import NatsRunner
from agent.scaleout.subjects import Names
from agent.scaleout.unclaimed import on_unclaimed
from tests.agent.scaleout.test_unclaimed import count, job_row, left_running, results
from tests.support.announcements import Announcements
from tests.support.nats_running import bot_jobs, transport_for, until, worker_running
from tests.support.nats_tools import HOLD_TOOL, HoldArgs
from tests.support.workshop import PLACE, MakeWorkshop
from tools.contract import ToolContext


async def test_a_result_that_came_while_the_bot_was_stopped_is_stored_and_told_once(
    make_studio: MakeWorkshop, nats_url: str, nats_names: Names, tmp_path: Path
) -> None:
    studio = make_studio([HOLD_TOOL])
    transport = transport_for(nats_url, nats_names, studio.media.root)  # one shared directory
    marks = tmp_path / "marks"
    marks.mkdir()
    args = HoldArgs(prompt="a kept thing", marks=str(marks))
    job = await left_running(studio, tool="hold", args=args.model_dump(mode="json"))

    async with worker_running(transport):
        async with bot_jobs(transport) as jobs:  # the first bot process publishes the job ...
            token = current_job.set(job)  # the ledger row's id is the job's (as in a run)
            asking = asyncio.create_task(jobs.run(1, HOLD_TOOL, args, ToolContext()))
            current_job.reset(token)
            await until(lambda: any(marks.glob("started-*")))
            asking.cancel()  # ... and stops while the worker runs it
            with contextlib.suppress(asyncio.CancelledError):
                await asking
        (marks / "release").touch()  # the worker finishes: its result waits for bot1

        restarted = NatsRunner(transport)  # the same bot id, back
        handler, heard = results(studio), Announcements()
        restarted.on_unclaimed = on_unclaimed(handler, restarted)
        await handler.announce_with("test", heard)
        await restarted.start()
        try:
            place, told = await heard.first(timeout_s=20)
        finally:
            await restarted.close()

    [piece] = await studio.artifacts()
    assert place == PLACE
    assert told.text == (
        f"Ada, your hold ('a kept thing') finished while atelier was restarting: #{piece.id}"
    )
    [shown] = told.artifacts
    assert (
        shown.media_path is not None and shown.media_path.read_bytes() == b"bytes of a kept thing"
    )
    assert (await job_row(studio.sessions, job)).state == JobState.DONE
    assert await count(studio.sessions, Job) == 1 and len(heard.said) == 1
