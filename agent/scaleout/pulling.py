"""How a worker takes jobs: up to `pull` at once, from each of its kinds' consumers, the
urgent ("now") before the rest.

One poller per consumer waits for a job (a lingering pull: it returns the moment one is
published), takes it, then takes at once whatever else is waiting there, up to the room left,
so jobs queued together start together and batch on the GPU. A "later" poller asks only while
every "now" poller is waiting for work: background jobs fill a worker, never delay a person.
Pollers ask for one job when they wait, so at most one job per poller beyond `pull` is ever
held, when several arrive at the same instant.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeout
from nats.js import JetStreamContext

from agent.scaleout.setup import describe
from agent.scaleout.subjects import Priority

logger = logging.getLogger(__name__)

WAIT_S = 5.0  # one lingering pull; then another
SWEEP_S = 0.05  # how long the take after a job waits for more to arrive (a burst)


class Room:
    """How many jobs the worker holds, against how many it may."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.held = 0
        self._changed = asyncio.Condition()

    async def free(self) -> int:
        async with self._changed:
            await self._changed.wait_for(lambda: self.held < self.size)
            return self.size - self.held

    def take(self) -> None:
        self.held += 1

    async def give_back(self) -> None:
        async with self._changed:
            self.held -= 1
            self._changed.notify_all()


class UrgentIdle:
    """Whether every "now" poller is waiting for a job (none has work to take)."""

    def __init__(self, pollers: int) -> None:
        self._pollers = pollers
        self._waiting = 0
        self.idle = asyncio.Event()
        self._update()

    def waiting(self, delta: int) -> None:
        self._waiting += delta
        self._update()

    def _update(self) -> None:
        if self._waiting >= self._pollers:
            self.idle.set()
        else:
            self.idle.clear()


class Poller:
    def __init__(
        self,
        js: JetStreamContext,
        stream: str,
        durable: str,
        priority: Priority,
        room: Room,
        urgent: UrgentIdle,
        start: Callable[[Msg], None],
    ) -> None:
        self._js = js
        self._stream = stream
        self._durable = durable
        self._priority = priority
        self._room = room
        self._urgent = urgent
        self._start = start

    async def run(self) -> None:
        sub = await self._js.pull_subscribe_bind(self._durable, stream=self._stream)
        while True:
            await self._room.free()
            if self._priority == "later":
                await self._urgent.idle.wait()
            first = await self._wait_for_one(sub)
            if first is None:
                continue
            self._take(first)
            left = self._room.size - self._room.held
            if left > 0:
                for message in await self._fetch(sub, left, SWEEP_S):
                    self._take(message)

    async def _wait_for_one(self, sub: JetStreamContext.PullSubscription) -> Msg | None:
        urgent = self._priority == "now"
        if urgent:
            self._urgent.waiting(+1)
        try:
            found = await self._fetch(sub, 1, WAIT_S)
        finally:
            if urgent:
                self._urgent.waiting(-1)
        return found[0] if found else None

    async def _fetch(
        self, sub: JetStreamContext.PullSubscription, batch: int, wait_s: float
    ) -> list[Msg]:
        try:
            return await sub.fetch(batch, timeout=wait_s)
        except (NatsTimeout, TimeoutError):
            return []
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - NATS away a moment: it reconnects
            logger.debug("pulling from %s: %s", self._durable, describe(exc))
            await asyncio.sleep(1.0)
            return []

    def _take(self, message: Msg) -> None:
        self._room.take()
        self._start(message)
