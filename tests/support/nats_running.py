"""Running the NATS leg's pieces in a test: a bot's Jobs with the NATS runner, a worker in
this process or as a process of its own (tests/support/nats_worker.py), and waiting for what
another process or thread will make true."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

from agent.jobs import JobLimits, Jobs
from agent.scaleout.runner import NatsRunner
from agent.scaleout.setup import MediaMode, Transport
from agent.scaleout.subjects import Names
from agent.scaleout.worker import Worker
from tests.support.nats_tools import HOLD_TOOL
from tools.contract import ModelSource, NoModels, Tool

REPO_ROOT = Path(__file__).resolve().parents[2]
ACK_WAIT_S = 2.0  # short, so a dead worker's job goes to another within the test


def transport_for(
    url: str, names: Names, root: Path, media: MediaMode = "shared", max_deliver: int = 3
) -> Transport:
    return Transport(
        url=url,
        names=names,
        bot_id="bot1",
        media=media,
        media_root=root,
        ack_wait_s=ACK_WAIT_S,
        max_deliver=max_deliver,
        beat_every_s=1.0,
    )


@asynccontextmanager
async def bot_jobs(transport: Transport, limits: JobLimits = JobLimits()) -> AsyncIterator[Jobs]:  # noqa: B008
    """The bot's Jobs, its runs sent through NATS."""
    runner = NatsRunner(transport)
    await runner.start()
    jobs = Jobs(limits, runner=runner)
    try:
        yield jobs
    finally:
        jobs.shutdown()
        await runner.close()


@asynccontextmanager
async def worker_running(
    transport: Transport, tools: Sequence[Tool] = (HOLD_TOOL,), models: ModelSource | None = None
) -> AsyncIterator[Worker]:
    """A worker in this process, pulling once this yields; stopped (gracefully) after."""
    worker = Worker(transport, tools=tools, models=models or NoModels(), kinds=["text"])
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    ready = asyncio.create_task(worker.ready.wait())
    await asyncio.wait({task, ready}, return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        ready.cancel()
        task.result()  # raises what stopped it
    try:
        yield worker
    finally:
        stop.set()
        await task


async def until(condition: Callable[[], bool]) -> None:
    """Wait, a moment at a time, for what another process or thread will make true."""
    while not condition():
        await asyncio.sleep(0.02)


class WorkerProcess:
    """`python -m tests.support.nats_worker`, its stderr kept (read in a thread so the pipe
    never fills)."""

    def __init__(self, transport: Transport, *extra: str) -> None:
        command = [
            sys.executable,
            "-m",
            "tests.support.nats_worker",
            f"--url={transport.url}",
            f"--prefix={transport.names.prefix}",
            f"--media={transport.media}",
            f"--media-root={transport.media_root}",
            f"--ack-wait={transport.ack_wait_s}",
            f"--max-deliver={transport.max_deliver}",
            *extra,
        ]
        self.process = subprocess.Popen(
            command, cwd=REPO_ROOT, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    @property
    def pid(self) -> int:
        return self.process.pid

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.append(line.rstrip("\n"))

    def exited(self) -> bool:
        return self.process.poll() is not None

    async def wait(self) -> int:
        code = await asyncio.to_thread(self.process.wait)
        await asyncio.to_thread(self._reader.join)
        return code

    def stop(self) -> None:
        if not self.exited():
            self.process.send_signal(signal.SIGTERM)
