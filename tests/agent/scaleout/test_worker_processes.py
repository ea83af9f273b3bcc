"""Workers as real processes on the real NATS server: one killed mid-job, one stopped with
SIGTERM, a job that kills every worker that takes it, and a worker whose NATS is not there.

The worker that takes over runs in this process (it starts at once); ack_wait is 2 s, so a
dead worker's job is handed on within the test.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import nats
import pytest

from agent.scaleout.setup import Transport
from agent.scaleout.subjects import Names
from tests.support.nats_running import (
    REPO_ROOT,
    WorkerProcess,
    bot_jobs,
    transport_for,
    until,
    worker_running,
)
from tests.support.nats_tools import CRASH_TOOL, HOLD_TOOL, CrashArgs, HoldArgs
from tools.contract import ToolContext, ToolRefused


@pytest.fixture
def marks(tmp_path: Path) -> Path:
    path = tmp_path / "marks"
    path.mkdir()
    return path


async def results_published(transport: Transport) -> tuple[int, int]:
    """How many results were ever published, and how many still wait to be read."""
    client = await nats.connect(transport.url)
    try:
        info = await client.jetstream().stream_info(transport.names.results_stream)
    finally:
        await client.close()
    return info.state.last_seq, info.state.messages


async def test_a_worker_killed_mid_job_hands_it_to_another_and_it_arrives_once(
    nats_url: str, nats_names: Names, tmp_path: Path, marks: Path
) -> None:
    transport = transport_for(nats_url, nats_names, tmp_path / "media")
    args = HoldArgs(prompt="survives a crash", marks=str(marks))
    async with bot_jobs(transport) as jobs:
        run = asyncio.create_task(jobs.run(1, HOLD_TOOL, args, ToolContext()))
        first = WorkerProcess(transport)
        await until(lambda: (marks / f"started-{first.pid}").exists())
        first.process.kill()  # SIGKILL: no goodbye, no acknowledgement, no hand-back
        await first.wait()
        (marks / "release").touch()
        async with worker_running(transport):
            draft = await run
    assert draft.params["worker_pid"] == os.getpid()  # made by the second worker
    assert await results_published(transport) == (1, 0)  # one result, read and acknowledged


async def test_a_worker_stopped_with_sigterm_hands_its_job_back_and_exits_0(
    nats_url: str, nats_names: Names, tmp_path: Path, marks: Path
) -> None:
    transport = transport_for(nats_url, nats_names, tmp_path / "media")
    args = HoldArgs(prompt="handed back", marks=str(marks))
    async with bot_jobs(transport) as jobs:
        run = asyncio.create_task(jobs.run(1, HOLD_TOOL, args, ToolContext()))
        first = WorkerProcess(transport, "--grace=0.2")
        await until(lambda: (marks / f"started-{first.pid}").exists())
        first.stop()
        assert await first.wait() == 0, "\n".join(first.lines)
        assert (marks / f"saw-cancel-{first.pid}").exists(), "its tool was never stopped"
        (marks / "release").touch()
        async with worker_running(transport):
            draft = await run
    assert draft.params["worker_pid"] == os.getpid()
    assert any("handed back 1 jobs" in line for line in first.lines)
    assert await results_published(transport) == (1, 0)


async def test_a_job_that_kills_every_worker_is_given_up_and_the_person_told(
    nats_url: str, nats_names: Names, tmp_path: Path, marks: Path
) -> None:
    transport = transport_for(nats_url, nats_names, tmp_path / "media", max_deliver=3)
    args = CrashArgs(prompt="poison", marks=str(marks))
    async with bot_jobs(transport) as jobs:
        run = asyncio.create_task(jobs.run(1, CRASH_TOOL, args, ToolContext()))
        for crashes in (1, 2):  # every delivery but the last runs it, and dies
            worker = WorkerProcess(transport)
            assert await worker.wait() == 1
            assert len(list(marks.glob("crash-*"))) == crashes
        # The last delivery: not run again (this worker would die too: it is this process).
        async with worker_running(transport, [CRASH_TOOL]):
            with pytest.raises(ToolRefused) as refused:
                await run
    line = str(refused.value)
    assert line == "The crash job crashed the worker 2 times; nothing was made."
    assert await results_published(transport) == (1, 0)


def test_a_worker_whose_nats_is_not_answering_says_so_in_one_line_and_exits_3(
    base_env: dict[str, str], unused_tcp_port: int
) -> None:
    env = {**base_env, "ATELIER_JOBS": f"nats://127.0.0.1:{unused_tcp_port}"}
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", "worker", "--kinds", "text"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 3
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"atelier: NATS at nats://127.0.0.1:{unused_tcp_port} is not")
    assert "ATELIER_JOBS" in lines[0]
