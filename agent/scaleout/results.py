"""The bot's side of results: its durable consumer read in the background, each result handed
to the run that awaits it, or to `on_unclaimed` when none does (the bot restarted since it was
asked, or the run was abandoned: another part of atelier stores or reports those).

A claimed result is acknowledged by its run once its draft's bytes are in hand; an unclaimed
one once `on_unclaimed` returned (if it raises, the result comes back later).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeout
from nats.js import JetStreamContext
from pydantic import ValidationError

from agent.scaleout.envelope import ResultEnvelope
from agent.scaleout.setup import Transport, describe

logger = logging.getLogger(__name__)

OnUnclaimed = Callable[[ResultEnvelope], Awaitable[None]]
FETCH_BATCH = 64
FETCH_WAIT_S = 5.0


async def log_unclaimed(result: ResultEnvelope) -> None:
    """The default: said in the log; the result is acknowledged and goes."""
    logger.warning(
        "a result for job %d (%s) arrived with nobody waiting for it in this process",
        result.job_id,
        result.outcome,
    )


@dataclass(frozen=True)
class Arrived:
    """A result for a run that awaits it, and the message to acknowledge once it is read."""

    result: ResultEnvelope
    message: Msg


class Results:
    def __init__(self, transport: Transport, on_unclaimed: OnUnclaimed = log_unclaimed) -> None:
        self._transport = transport
        self.on_unclaimed = on_unclaimed
        self._waiting: dict[int, asyncio.Future[Arrived]] = {}
        self._task: asyncio.Task[None] | None = None

    def expect(self, job_id: int) -> asyncio.Future[Arrived]:
        """A future for the job's result; register it before publishing the job."""
        future: asyncio.Future[Arrived] = asyncio.get_running_loop().create_future()
        self._waiting[job_id] = future
        return future

    def forget(self, job_id: int) -> None:
        """The run no longer awaits this job: its result, if it comes, is unclaimed."""
        self._waiting.pop(job_id, None)

    def start(self, js: JetStreamContext, durable: str) -> None:
        self._task = asyncio.create_task(self._read(js, durable), name="atelier-results")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _read(self, js: JetStreamContext, durable: str) -> None:
        names = self._transport.names
        sub = await js.pull_subscribe_bind(durable, stream=names.results_stream)
        while True:
            try:
                messages = await sub.fetch(FETCH_BATCH, timeout=FETCH_WAIT_S)
            except (NatsTimeout, TimeoutError):
                continue
            except Exception as exc:  # noqa: BLE001 - NATS away: it reconnects; read on then
                logger.debug("reading results: %s", describe(exc))
                await asyncio.sleep(1.0)
                continue
            for message in messages:
                await self._deliver(message)

    async def _deliver(self, message: Msg) -> None:
        try:
            result = ResultEnvelope.model_validate_json(message.data)
        except ValidationError as exc:
            logger.error("a malformed result was dropped: %s", describe(exc))
            await message.term()
            return
        waiting = self._waiting.pop(result.job_id, None)
        if waiting is not None and not waiting.done():
            waiting.set_result(Arrived(result, message))
            return
        try:
            await self.on_unclaimed(result)
        except Exception:  # noqa: BLE001 - kept for a later try, not lost
            logger.exception("handling the unclaimed result of job %d failed", result.job_id)
            await message.nak(delay=5.0)
            return
        await message.ack()
