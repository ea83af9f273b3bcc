"""Every model's line, and the lanes tools hand their work to.

A tool thread that hands over a job waits for its outcome, checking between short waits
whether the job was cancelled (then it leaves the line, or its batch at the next step) and
telling the person where they are ("queued: 3rd in line, about 20 s") while it waits.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from concurrent.futures import TimeoutError as FutureTimeout

from tools.scheduling.lane import Check, Report
from tools.scheduling.line import Entry
from tools.scheduling.pace import Describe, Pace, Unmeasured, plain_line
from tools.scheduling.queue import Batching, ModelQueue
from tools.scheduling.work import Item, Result, Work

# How often a waiting job checks for its cancellation, and every how many checks it works
# out its place in line again (that walks the line under its lock: not 20 times a second).
POLL_S = 0.05
PLACE_EVERY = 10


class Scheduler:
    def __init__(
        self,
        batching: Batching = Batching(),  # noqa: B008 - frozen, shared safely
        *,
        pace: Pace | None = None,
        describe: Describe = plain_line,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._batching = batching
        self._pace = pace if pace is not None else Unmeasured()
        self._describe = describe
        self._clock = clock
        self._queues: dict[int, ModelQueue] = {}  # by id() of the model: identity, not value
        self._lock = threading.Lock()
        self._closed = False

    def lane(self, owner: Hashable, group: Hashable | None = None) -> SchedulerLane:
        """The scheduler as one person sees it, in one session or conversation (`group`)."""
        return SchedulerLane(self, owner, owner if group is None else group)

    def submit(self, work: Work, owner: Hashable, group: Hashable) -> tuple[ModelQueue, Entry]:
        entry = Entry(work=work, owner=owner, group=group, arrived=self._clock())
        with self._lock:
            queue = self._queues.get(id(work.model))
            if queue is None:
                queue = ModelQueue(
                    self._batching, self._pace, retire=self._retire, clock=self._clock
                )
                if not self._closed:
                    self._queues[id(work.model)] = queue
                else:
                    queue.close()
            queue.add(entry)
        return queue, entry

    def waiting(self, model: object) -> int:
        """How many jobs wait for `model` (the one running not counted)."""
        with self._lock:
            queue = self._queues.get(id(model))
        return 0 if queue is None else queue.waiting_count()

    def backlog_s(self) -> float:
        """Seconds until every model's line is done, one model after another (they share
        the device), if nobody else comes."""
        with self._lock:
            queues = list(self._queues.values())
        return sum(queue.backlog_s() for queue in queues)

    def describe(self, place: int, wait_s: float) -> str:
        return self._describe(place, wait_s)

    def shutdown(self) -> None:
        """Jobs still waiting fail with Closed; a batch running finishes."""
        with self._lock:
            self._closed = True
            queues, self._queues = list(self._queues.values()), {}
        for queue in queues:
            queue.close()

    def _retire(self, queue: ModelQueue) -> bool:
        with self._lock:
            if not queue.is_empty():
                return False
            for key, known in list(self._queues.items()):
                if known is queue:
                    del self._queues[key]
            return True


class SchedulerLane:
    """One requester's way into the scheduler (ToolContext.lane)."""

    def __init__(self, scheduler: Scheduler, owner: Hashable, group: Hashable) -> None:
        self._scheduler = scheduler
        self._owner = owner
        self._group = group

    def run(self, work: Work[Item, Result], progress: Report, check: Check) -> Result:
        check()
        queue, entry = self._scheduler.submit(work, self._owner, self._group)
        shown: str | None = None
        polls = 0
        while True:
            try:
                return entry.outcome.result(timeout=POLL_S)
            except FutureTimeout:
                pass
            try:
                check()
            except BaseException:
                queue.withdraw(entry)
                raise
            polls += 1
            if polls % PLACE_EVERY != 1:  # the first check, then every tenth
                continue
            waiting = queue.waiting(entry)
            if waiting is not None and (line := self._scheduler.describe(*waiting)) != shown:
                progress(0.0, line)
                shown = line
