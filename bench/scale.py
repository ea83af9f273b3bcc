"""Scale-out on NATS JetStream (issue 18): jobs/s through 1, 2 and 4 workers, and what the
NATS path adds to a job over running it in the bot process.

Run (a NATS server with JetStream on the URL; `make bench-scale`):

    .venv/bin/python bench/scale.py
    .venv/bin/python bench/scale.py --url nats://127.0.0.1:4222 --people 50 --pull 8

Throughput: 50 people ask for one job each at once, through the bot's own Jobs with its NATS
runner (agent/scaleout/runner.py), served by 1, then 2, then 4 `atelier worker`s: real Worker
processes (agent/scaleout/worker.py) pulling from the real server, started as subprocesses of
this script. Their tool holds a simulated GPU for 1 s: a lock per worker process held with
time.sleep, so one worker serves one job a second, whatever this machine's cores, and the
figure measures the engine (pulling, spreading jobs across workers, results coming back), not
the CPU. Printed: jobs/s per worker count and its ratio to 1 worker (target >= 3.6x at 4),
and how many jobs each worker ran.

Latency: a zero-work job, one at a time (--latency-jobs, 200), through the same Jobs locally
(`ATELIER_JOBS=local`: a thread of this process) and over NATS (publish, a worker's pull and
run, its result published and read back), interleaved; the median and p99 of each and of the
difference (target: < 10 ms added at the median).

The streams and buckets live under a prefix of their own and are deleted at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import platform
import signal
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.support, run from anywhere
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import nats  # noqa: E402
from pydantic import Field  # noqa: E402

from agent.jobs import JobLimits, Jobs  # noqa: E402
from agent.scaleout.runner import NatsRunner  # noqa: E402
from agent.scaleout.setup import Transport  # noqa: E402
from agent.scaleout.subjects import Names  # noqa: E402
from agent.scaleout.worker import Worker  # noqa: E402
from tests.support.nats import delete_everything_of  # noqa: E402
from tools.contract import (  # noqa: E402
    ArtifactDraft,
    ArtifactKind,
    NoModels,
    Tool,
    ToolArgs,
    ToolContext,
)

WORKER_COUNTS = (1, 2, 4)
TARGET_RATIO = 3.6
TARGET_ADDED_MS = 10.0
READY_WAIT_S = 60.0

# The simulated GPU: one per worker process, as one real GPU serves one worker.
_GPU = threading.Lock()


class HoldArgs(ToolArgs):
    prompt: str = Field(description="whose job", min_length=1)
    seconds: float = Field(1.0, ge=0, description="how long the simulated GPU is held")


def hold_gpu(args: HoldArgs, context: ToolContext) -> ArtifactDraft:
    if args.seconds:
        with _GPU:
            time.sleep(args.seconds)
    return ArtifactDraft(
        ArtifactKind.POEM, text=f"done: {args.prompt}", params={"worker_pid": os.getpid()}
    )


GPU_TOOL = Tool(
    name="gpu_second",
    description="holds the simulated GPU",
    kind=ArtifactKind.POEM,
    args=HoldArgs,
    run=hold_gpu,
)
TOOLS = [GPU_TOOL]
BOT_LIMITS = JobLimits(running=1, queued=2, workers=64, queue_cap=10_000)


def transport(options: argparse.Namespace) -> Transport:
    return Transport(
        url=options.url,
        names=Names(prefix=options.prefix),
        bot_id="bench",
        media_root=Path(options.media_root),
        pull=options.pull,
        beat_every_s=1.0,
    )


# --- the worker side: this script run with --serve, one process per worker ---


async def serve_worker(options: argparse.Namespace) -> None:
    worker = Worker(
        transport(options), tools=TOOLS, models=NoModels(), kinds=["text"], worker_id=options.id
    )
    stop = asyncio.Event()  # as agent/scaleout/serving.py's serve (which imports the models)
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    serving = asyncio.create_task(worker.run(stop))
    ready = asyncio.create_task(worker.ready.wait())
    await asyncio.wait({serving, ready}, return_when=asyncio.FIRST_COMPLETED)
    if worker.ready.is_set():
        print("ready", flush=True)
    await serving


# --- the bot side ---


class Workers:
    """Worker subprocesses, started a few at a time, all stopped at the end."""

    def __init__(self, options: argparse.Namespace) -> None:
        self._options = options
        self._processes: list[asyncio.subprocess.Process] = []

    def __len__(self) -> int:
        return len(self._processes)

    async def grow_to(self, count: int) -> None:
        while len(self._processes) < count:
            self._processes.append(await self._start(f"bench-w{len(self._processes) + 1}"))

    async def _start(self, worker_id: str) -> asyncio.subprocess.Process:
        o = self._options
        process = await asyncio.create_subprocess_exec(
            *[sys.executable, __file__, "--serve", "--id", worker_id, "--url", o.url],
            *["--prefix", o.prefix, "--pull", str(o.pull), "--media-root", o.media_root],
            stdout=asyncio.subprocess.PIPE,
        )
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), READY_WAIT_S)
        if line.strip() != b"ready":
            raise SystemExit(f"scale: worker {worker_id} did not start (its stderr is above)")
        return process

    async def stop(self) -> None:
        for process in self._processes:
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
        for process in self._processes:
            try:
                await asyncio.wait_for(process.wait(), 15)
            except TimeoutError:
                process.kill()
                await process.wait()


async def throughput(jobs: Jobs, people: int, seconds: float) -> tuple[float, Counter[int]]:
    """Seconds for `people` jobs asked at once, and how many each worker process ran."""
    started = time.perf_counter()
    drafts = await asyncio.gather(
        *(
            jobs.run(person, GPU_TOOL, HoldArgs(prompt=f"person {person}", seconds=seconds), ctx())
            for person in range(people)
        )
    )
    elapsed = time.perf_counter() - started
    wrong = [d for i, d in enumerate(drafts) if d.text != f"done: person {i}"]
    if wrong:
        raise SystemExit(f"scale: {len(wrong)} of {people} jobs came back wrong")
    return elapsed, Counter(draft.params["worker_pid"] for draft in drafts)


def ctx() -> ToolContext:
    return ToolContext()


async def latencies(local: Jobs, remote: Jobs, count: int) -> tuple[list[float], list[float]]:
    """Milliseconds per zero-work job, locally and over NATS, one at a time, interleaved."""
    zero = HoldArgs(prompt="zero", seconds=0.0)
    here: list[float] = []
    there: list[float] = []
    for turn in range(count + 10):  # the first 10 of each warm up
        for jobs, into in ((local, here), (remote, there)):
            started = time.perf_counter()
            await jobs.run(turn, GPU_TOOL, zero, ctx())
            if turn >= 10:
                into.append((time.perf_counter() - started) * 1000)
    return here, there


def p99(values: Sequence[float]) -> float:
    return statistics.quantiles(values, n=100)[98]


async def machine_line(url: str) -> str:
    try:
        client = await nats.connect(url, connect_timeout=2, max_reconnect_attempts=0)
    except Exception as exc:  # noqa: BLE001 - any failure to connect is the same news
        raise SystemExit(
            f"scale: NATS is not answering at {url} ({exc}); start `nats-server -js`"
        ) from None
    server = client.connected_server_version
    await client.close()
    return (
        f"machine: {platform.node()}, {os.cpu_count()} CPUs, {platform.platform()}; "
        f"python {platform.python_version()}, nats-py {nats.aio.client.__version__}, "
        f"nats-server {server.major}.{server.minor}.{server.patch}"
    )


async def bench(options: argparse.Namespace) -> None:
    print(await machine_line(options.url))
    print(
        f"{options.people} people, one job each, a simulated GPU held {options.seconds:g} s "
        f"per job; each worker pulls up to {options.pull} jobs at once"
    )
    runner = NatsRunner(transport(options))
    await runner.start()
    remote = Jobs(BOT_LIMITS, runner=runner)
    local = Jobs(BOT_LIMITS)
    workers = Workers(options)
    try:
        rates: dict[int, float] = {}
        for count in WORKER_COUNTS:
            await workers.grow_to(count)
            await latencies(local, remote, 0)  # each new worker's pull under way
            elapsed, per_worker = await throughput(remote, options.people, options.seconds)
            rates[count] = options.people / elapsed
            spread = "/".join(str(n) for n in sorted(per_worker.values(), reverse=True))
            ratio = rates[count] / rates[WORKER_COUNTS[0]]
            target = f" (target >= {TARGET_RATIO}x)" if count == 4 else ""
            print(
                f"{count} worker{'s' if count > 1 else ' '}: {rates[count]:6.2f} jobs/s, "
                f"{elapsed:6.2f} s, {ratio:4.2f}x 1 worker{target}; jobs per worker {spread}"
            )
        here, there = await latencies(local, remote, options.latency_jobs)
        added = [nats_ms - local_ms for local_ms, nats_ms in zip(here, there, strict=True)]
        print(f"zero-work job, {options.latency_jobs} one at a time, {len(workers)} workers up:")
        for label, values in (("local", here), ("NATS", there), ("added by NATS", added)):
            print(
                f"  {label:<14} median {statistics.median(values):6.2f} ms, "
                f"p99 {p99(values):6.2f} ms"
            )
        print(f"  target: added median < {TARGET_ADDED_MS:g} ms")
    finally:
        await workers.stop()
        await runner.close()
        remote.shutdown()
        local.shutdown()
        await delete_everything_of(options.url, Names(prefix=options.prefix))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    default_url = os.environ.get("ATELIER_TEST_NATS_URL", "nats://127.0.0.1:4222")
    parser.add_argument("--url", default=default_url, help="a NATS server with JetStream")
    parser.add_argument("--people", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=1.0, help="the GPU hold per job")
    parser.add_argument(
        "--pull", type=int, default=8, help="jobs a worker takes at once (ATELIER_WORKER_PULL)"
    )
    parser.add_argument("--latency-jobs", type=int, default=200)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--id", help=argparse.SUPPRESS)
    parser.add_argument("--prefix", default=f"bench{uuid.uuid4().hex[:8]}", help=argparse.SUPPRESS)
    parser.add_argument("--media-root", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.serve:
        logging.basicConfig(level=logging.ERROR)  # its start and stop lines would crowd the figures
        asyncio.run(serve_worker(options))
        return
    with tempfile.TemporaryDirectory(prefix="atelier-scale-") as media_root:
        options.media_root = media_root
        asyncio.run(bench(options))


if __name__ == "__main__":
    main()
