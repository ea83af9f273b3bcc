"""A tool run through NATS: published by the bot's runner, run by a worker, its draft back.

The worker runs in this process here (the crash tests start real worker processes), on the
real NATS server, with names of its own for each test.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from dataclasses import replace
from pathlib import Path

import pytest

from agent.jobs import JobLimits
from agent.scaleout.setup import MediaMode, QueueUnreachable
from agent.scaleout.subjects import Names
from tests.support.nats import until_in_stream
from tests.support.nats_running import bot_jobs, transport_for, until, worker_running
from tests.support.nats_tools import HOLD_TOOL, HoldArgs
from tools.contract import Cancelled, ToolContext
from tools.models.registry import ModelRegistry
from tools.poem.tool import POEM_TOOL, PoemArgs


async def test_a_poem_made_on_a_worker_is_the_poem_made_here(
    nats_url: str, nats_names: Names, tmp_path: Path, tiny_models: ModelRegistry
) -> None:
    transport = transport_for(nats_url, nats_names, tmp_path / "media")
    args = PoemArgs(prompt="the sea at night", seed=7, form="free verse", lines=2)
    here = await asyncio.to_thread(POEM_TOOL.run, args, ToolContext(models=tiny_models))
    async with worker_running(transport, [POEM_TOOL], tiny_models), bot_jobs(transport) as jobs:
        there = await jobs.run(1, POEM_TOOL, args, ToolContext())
    assert there.text == here.text
    assert dict(there.params) == dict(here.params)
    assert there.kind is here.kind


@pytest.mark.parametrize("media", ["shared", "object"])
async def test_the_files_made_come_back_byte_for_byte_with_progress(
    nats_url: str, nats_names: Names, tmp_path: Path, media: MediaMode
) -> None:
    transport = transport_for(nats_url, nats_names, tmp_path / "media", media)
    marks = tmp_path / "marks"
    marks.mkdir()
    seen: list[str] = []

    def progress(_fraction: float, label: str) -> None:
        seen.append(label)
        (marks / "release").touch()  # the worker's word arrived: let it finish

    args = HoldArgs(prompt="a kept thing", marks=str(marks))
    async with worker_running(transport), bot_jobs(transport) as jobs:
        draft = await jobs.run(1, HOLD_TOOL, args, ToolContext(progress=progress))
    assert draft.media is not None
    assert draft.media.data == b"bytes of a kept thing"
    assert "holding" in seen
    if media == "shared":  # written once by the worker, where the bot's store finds it
        digest = hashlib.sha256(draft.media.data).hexdigest()
        assert (tmp_path / "media" / digest[:2] / f"{digest}.bin").exists()
    else:  # nobody else will read the objects: they are gone
        assert not (tmp_path / "media").exists()


async def test_a_cancelled_job_stops_on_the_worker_and_nothing_is_stored(
    nats_url: str, nats_names: Names, tmp_path: Path
) -> None:
    transport = transport_for(nats_url, nats_names, tmp_path / "media")
    marks = tmp_path / "marks"
    marks.mkdir()
    context = ToolContext()
    args = HoldArgs(prompt="never mind", marks=str(marks))
    async with worker_running(transport), bot_jobs(transport) as jobs:
        run = asyncio.create_task(jobs.run(1, HOLD_TOOL, args, context))
        await until(lambda: any(marks.glob("started-*")))
        context.cancelled.set()  # what /cancel and the Cancel button do
        with pytest.raises(Cancelled):
            await run
    assert any(marks.glob("saw-cancel-*")), "the tool on the worker never saw its flag"
    assert not (tmp_path / "media").exists(), "a cancelled job stored its media"


async def test_a_job_cancelled_before_a_worker_takes_it_never_runs(
    nats_url: str, nats_names: Names, tmp_path: Path
) -> None:
    transport = transport_for(nats_url, nats_names, tmp_path / "media")
    marks = tmp_path / "marks"
    marks.mkdir()
    context = ToolContext()
    args = HoldArgs(prompt="not yet", marks=str(marks))
    async with bot_jobs(transport) as jobs:
        run = asyncio.create_task(jobs.run(1, HOLD_TOOL, args, context))
        await until_in_stream(nats_url, nats_names.jobs_stream)  # published; no worker yet
        context.cancelled.set()
        # Marked where a worker looks before it starts a job (a cancel takes up to the runner's
        # poll to be written; a worker started sooner would rightly run it).
        await until_in_stream(nats_url, f"KV_{nats_names.cancelled_bucket}")
        async with worker_running(transport):
            with pytest.raises(Cancelled):
                await run
    assert not any(marks.glob("started-*"))


async def test_the_persons_limits_are_kept_in_the_bot_before_publishing(
    nats_url: str, nats_names: Names, tmp_path: Path
) -> None:
    transport = transport_for(nats_url, nats_names, tmp_path / "media")
    marks = tmp_path / "marks"
    marks.mkdir()
    args = HoldArgs(prompt="one at a time", marks=str(marks))
    limits = JobLimits(running=1, queued=0)
    async with worker_running(transport), bot_jobs(transport, limits) as jobs:
        first = asyncio.create_task(jobs.run(1, HOLD_TOOL, args, ToolContext()))
        await until(lambda: any(marks.glob("started-*")))
        with pytest.raises(Exception, match="already have 1 pieces in the works"):
            await jobs.run(1, HOLD_TOOL, args, ToolContext())
        (marks / "release").touch()
        assert (await first).text is not None


async def test_with_nats_not_answering_a_tool_request_is_refused_in_one_line(
    tmp_path: Path, unused_tcp_port: int
) -> None:
    transport = transport_for(f"nats://127.0.0.1:{unused_tcp_port}", Names("x"), tmp_path)
    transport = replace(transport, connect_timeout_s=0.5)
    async with bot_jobs(transport) as jobs:
        with pytest.raises(QueueUnreachable) as refused:
            args = HoldArgs(prompt="anything", marks=str(tmp_path))
            await jobs.run(1, HOLD_TOOL, args, ToolContext())
    line = str(refused.value)
    assert "\n" not in line
    assert f"NATS at nats://127.0.0.1:{unused_tcp_port}" in line
    assert "not answering" in line


async def test_a_worker_takes_several_peoples_jobs_at_once(
    nats_url: str, nats_names: Names, tmp_path: Path
) -> None:
    transport = transport_for(nats_url, nats_names, tmp_path / "media")
    folders = [tmp_path / f"marks{person}" for person in (1, 2, 3)]
    for folder in folders:
        folder.mkdir()
    async with worker_running(transport), bot_jobs(transport) as jobs:
        runs = [
            asyncio.create_task(
                jobs.run(
                    person, HOLD_TOOL, HoldArgs(prompt="together", marks=str(folder)), ToolContext()
                )
            )
            for person, folder in enumerate(folders, start=1)
        ]
        # All three run before any is let go: the worker holds them together, not in turn.
        await until(lambda: all(any(folder.glob("started-*")) for folder in folders))
        for folder in folders:
            (folder / "release").touch()
        drafts = await asyncio.gather(*runs)
    assert [draft.text for draft in drafts] == [f"held together by {os.getpid()}"] * 3
