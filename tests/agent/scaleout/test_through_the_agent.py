"""A whole turn with ATELIER_JOBS=nats://...: the studio, its ledger and its store unchanged, the
tool run on a worker. The piece is stored once, its file in the media store, and the job on
NATS is the ledger's own row; a cancel and NATS not answering are the usual one-line replies."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import nats
from nats.aio.msg import Msg
from sqlalchemy import select

from agent.ledger.models import Job
from agent.scaleout.runner import NatsRunner
from agent.scaleout.setup import Transport
from agent.scaleout.subjects import Names
from tests.support.nats_running import transport_for, until, worker_running
from tests.support.nats_tools import HOLD_TOOL
from tests.support.workshop import MakeWorkshop, Workshop


async def sent_to_nats(workshop: Workshop, transport: Transport) -> NatsRunner:
    runner = NatsRunner(transport)
    await runner.start()
    # What open_agent does with ATELIER_JOBS=nats://...: the workshop's Jobs, its runs elsewhere.
    workshop.jobs._runner = runner  # noqa: SLF001
    return runner


async def ledger_jobs(workshop: Workshop) -> list[Job]:
    async with workshop.sessions() as session:
        return list((await session.execute(select(Job).order_by(Job.id))).scalars())


async def test_a_piece_made_on_a_worker_is_stored_once_under_its_ledger_job(
    make_studio: MakeWorkshop, nats_url: str, nats_names: Names, tmp_path: Path
) -> None:
    workshop = make_studio([HOLD_TOOL])
    transport = transport_for(nats_url, nats_names, workshop.media.root)
    marks = tmp_path / "marks"
    marks.mkdir()
    jobs_seen: set[int] = set()

    async def progress(message: Msg) -> None:  # the job's subjects carry its id
        jobs_seen.add(int(message.subject.rsplit(".", 1)[-1]))
        (marks / "release").touch()

    client = await nats.connect(nats_url)
    await client.subscribe(f"{nats_names.prefix}.progress.*", cb=progress)
    runner = await sent_to_nats(workshop, transport)
    try:
        async with worker_running(transport):
            reply = await workshop.command(f"/hold marks={marks} a tide pool")
    finally:
        await runner.close()
        await client.close()
    assert len(reply.artifacts) == 1, reply.text
    pieces = await workshop.artifacts()
    assert [piece.text for piece in pieces] == [f"held a tide pool by {os.getpid()}"]
    assert len(workshop.media_files()) == 1
    (job,) = await ledger_jobs(workshop)
    assert jobs_seen == {job.id}
    # The worker's running time is the ledger's, as the daily tool-seconds quota counts it.
    assert job.state == "done" and job.tool_seconds > 0


async def test_a_turn_cancelled_while_its_job_runs_on_a_worker_stores_nothing(
    make_studio: MakeWorkshop, nats_url: str, nats_names: Names, tmp_path: Path
) -> None:
    workshop = make_studio([HOLD_TOOL])
    transport = transport_for(nats_url, nats_names, workshop.media.root)
    marks = tmp_path / "marks"
    marks.mkdir()
    runner = await sent_to_nats(workshop, transport)
    try:
        async with worker_running(transport):
            turn = asyncio.create_task(workshop.command(f"/hold marks={marks} a wave"))
            await until(lambda: any(marks.glob("started-*")))
            cancelling = await workshop.command("/cancel")  # as the person would
            reply = await turn
            await until(lambda: any(marks.glob("saw-cancel-*")))
    finally:
        await runner.close()
    assert "Cancelled" in reply.text, cancelling.text
    assert await workshop.artifacts() == []
    assert workshop.media_files() == []


async def test_with_nats_not_answering_a_tool_turn_is_one_line_and_stores_nothing(
    make_studio: MakeWorkshop, tmp_path: Path, unused_tcp_port: int
) -> None:
    workshop = make_studio([HOLD_TOOL])
    url = f"nats://127.0.0.1:{unused_tcp_port}"
    transport = transport_for(url, Names("nobody"), workshop.media.root)
    runner = await sent_to_nats(workshop, transport)
    try:
        reply = await workshop.command(f"/hold marks={tmp_path} anything")
    finally:
        await runner.close()
    assert reply.text == (
        f"atelier's job queue (NATS at {url}) is not answering; try again in a minute."
    )
    assert await workshop.artifacts() == []
