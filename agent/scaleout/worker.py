"""`atelier worker`: one process per GPU, running the jobs of its kinds that bots publish.

It pulls several jobs at once (pulling.py), runs each (running.py) through one local Jobs, so
compatible jobs from everyone batch on its GPU through the model scheduler, and says it is
alive in the workers bucket every few seconds (the entry expires when it stops saying so).
A cancel on a job's plain subject sets that job's flag: its tool stops at its next step.

Stopping (SIGTERM): it takes no more jobs, lets those it holds finish within the grace period,
then hands the rest back (nak: another worker takes them at once, nothing is lost) and exits.
The tools and models are constructor arguments, so tests and benches can give it their own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import signal
import socket
import time
from collections.abc import Sequence

from nats.aio.msg import Msg

from agent.jobs import JobLimits, Jobs
from agent.scaleout.envelope import WorkerBeat
from agent.scaleout.media import MediaMover
from agent.scaleout.pulling import Poller, Room, UrgentIdle
from agent.scaleout.running import Held, WorkerParts, handle
from agent.scaleout.setup import NatsUnreachable, Transport, connect, describe
from agent.scaleout.streams import (
    cancelled_bucket,
    ensure_streams,
    ensure_worker_consumer,
    media_bucket,
    workers_bucket,
)
from agent.scaleout.subjects import PRIORITIES, JobKind
from tools.contract import ModelSource, Tool
from tools.scheduling.queue import Batching

logger = logging.getLogger(__name__)

GRACE_S = 30.0


def worker_limits(pull: int, batching: Batching = Batching()) -> JobLimits:  # noqa: B008
    """The bot kept each person's limits before publishing; here every job held may run."""
    return JobLimits(
        running=pull, queued=pull, workers=2 * pull, queue_cap=4 * pull, batching=batching
    )


class Worker:
    def __init__(
        self,
        transport: Transport,
        *,
        tools: Sequence[Tool],
        models: ModelSource,
        kinds: Sequence[JobKind],
        jobs: Jobs | None = None,
        device: str = "cpu",
        worker_id: str | None = None,
        grace_s: float = GRACE_S,
    ) -> None:
        self.transport = transport
        self.kinds = tuple(dict.fromkeys(kinds))
        self.device = device
        self.worker_id = worker_id or default_worker_id()
        self._tools = {tool.name: tool for tool in tools}
        self._models = models
        self._jobs = jobs or Jobs(worker_limits(transport.pull))
        self._grace_s = grace_s
        self._held: dict[asyncio.Task[None], Held] = {}
        self._room = Room(transport.pull)
        self._parts: WorkerParts | None = None
        self.ready = asyncio.Event()  # set once it pulls (tests and benches wait for it)

    async def run(self, stop: asyncio.Event) -> None:
        """Serve until `stop` is set; NatsUnreachable when NATS does not answer at start."""
        try:
            client = await connect(self.transport, keep_trying=True)
        except Exception as exc:  # noqa: BLE001 - any failure to reach NATS is the same news
            raise NatsUnreachable(self.transport, exc) from None
        try:
            await self._serve(client, stop)
        finally:
            await client.close()
            self._jobs.shutdown()

    async def _serve(self, client, stop: asyncio.Event) -> None:  # noqa: ANN001
        js = client.jetstream()
        transport = self.transport
        await ensure_streams(js, transport)
        objects = await media_bucket(js, transport) if transport.media == "object" else None
        self._parts = WorkerParts(
            transport=transport,
            worker_id=self.worker_id,
            client=client,
            js=js,
            jobs=self._jobs,
            tools=self._tools,
            models=self._models,
            media=MediaMover(transport.media, transport.media_root, objects),
            cancelled=await cancelled_bucket(js, transport),
        )
        beats = await workers_bucket(js, transport)
        cancels = await client.subscribe(transport.names.cancels(), cb=self._on_cancel)
        urgent = UrgentIdle(len(self.kinds))
        pollers = [
            asyncio.create_task(
                Poller(
                    js,
                    transport.names.jobs_stream,
                    await ensure_worker_consumer(js, transport, kind, priority),
                    priority,
                    self._room,
                    urgent,
                    self._start,
                ).run(),
                name=f"atelier-pull-{kind}-{priority}",
            )
            for priority in PRIORITIES
            for kind in self.kinds
        ]
        beating = asyncio.create_task(self._beat(beats))
        self.ready.set()
        logger.warning(
            "worker %s serves %s on %s, up to %d jobs at once",
            self.worker_id,
            ",".join(self.kinds),
            self.device,
            transport.pull,
        )
        try:
            await stop.wait()
        finally:
            for task in pollers:
                task.cancel()
            await asyncio.gather(*pollers, return_exceptions=True)
            await self._wind_down()
            beating.cancel()
            await asyncio.gather(beating, return_exceptions=True)
            await _quietly(cancels.unsubscribe())
            await _quietly(beats.delete(self.worker_id))

    def _start(self, message: Msg) -> None:
        assert self._parts is not None
        held = Held(message)
        task = asyncio.create_task(handle(self._parts, held))
        self._held[task] = held
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._held.pop(task, None)
        asyncio.get_running_loop().create_task(self._room.give_back())

    async def _on_cancel(self, message: Msg) -> None:
        job = message.subject.rsplit(".", 1)[-1]
        for held in list(self._held.values()):
            if str(held.job_id) == job:
                held.cancelled.set()

    async def _wind_down(self) -> None:
        """Finish what is held within the grace period; hand the rest back."""
        if not self._held:
            return
        logger.warning(
            "stopping: finishing %d jobs (up to %g s), then handing back the rest",
            len(self._held),
            self._grace_s,
        )
        _, left = await asyncio.wait(set(self._held), timeout=self._grace_s)
        for task in left:
            held = self._held.get(task)
            if held is None:
                continue
            held.handed_back = True
            held.cancelled.set()  # its tool stops at its next step; its work is not wanted here
            await _quietly(held.message.nak())
            task.cancel()
        await asyncio.gather(*left, return_exceptions=True)
        if left:
            logger.warning("handed back %d jobs for another worker", len(left))

    async def _beat(self, bucket) -> None:  # noqa: ANN001 - a KeyValue
        while True:
            beat = WorkerBeat(
                worker_id=self.worker_id,
                kinds=self.kinds,
                device=self.device,
                host=socket.gethostname(),
                pid=os.getpid(),
                in_flight=len(self._held),
                seen_at=time.time(),
            )
            await _quietly(bucket.put(self.worker_id, beat.model_dump_json().encode()))
            await asyncio.sleep(self.transport.beat_every_s)


async def serve(worker: Worker) -> None:
    """Run `worker` until SIGTERM or SIGINT: then it stops taking jobs, finishes or hands
    back those it holds, and returns."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):  # no signal handlers on Windows' loop
            loop.add_signal_handler(signum, stop.set)
    await worker.run(stop)


def default_worker_id() -> str:
    """host-pid, as a KV key and a log line name it."""
    host = re.sub(r"[^A-Za-z0-9_-]+", "-", socket.gethostname()).strip("-") or "worker"
    return f"{host}-{os.getpid()}"


async def _quietly(work) -> None:  # noqa: ANN001 - any awaitable
    try:
        await work
    except Exception as exc:  # noqa: BLE001 - stopping, or NATS away: nothing more to do
        logger.debug("worker: %s", describe(exc))
