"""One model's line and the thread that runs it, a batch at a time.

The thread takes the job first in line and waits up to the batch window (counted from that
job's arrival) for compatible jobs to join, then runs them as one batch: every step is
reported to each job in it, and a job whose own step callback raises (it was cancelled)
leaves the batch there while the others go on. A batch that fails is run again job by job,
so one bad job cannot fail the others. A model nobody asked for a while lets its thread go.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from tools.scheduling.line import Entry, Line, batch_size, batches_until, compose
from tools.scheduling.pace import Pace

logger = logging.getLogger(__name__)


class Closed(RuntimeError):
    """The scheduler shut down before the job ran."""

    def __init__(self) -> None:
        super().__init__("the model scheduler shut down before this job ran")


class _NobodyLeft(Exception):
    """Raised from a batch's step callback when every job in it has left: it stops there."""


@dataclass(frozen=True)
class Batching:
    """How long jobs are gathered for one batch, and how large a batch of each kind may be."""

    window_s: float = 0.02
    max_size: tuple[tuple[str, int], ...] = (("image", 8), ("music", 8))
    default_max: int = 8
    idle_s: float = 60.0  # a model's thread ends after this long with nothing to run

    def cap(self, kind: str) -> int:
        return max(1, dict(self.max_size).get(kind, self.default_max))


@dataclass(frozen=True)
class _Running:
    key: str
    size: int
    started: float


class ModelQueue:
    def __init__(
        self,
        batching: Batching,
        pace: Pace,
        *,
        retire: Callable[[ModelQueue], bool],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._batching = batching
        self._pace = pace
        self._retire = retire  # asks the scheduler to forget this queue if it is still empty
        self._clock = clock
        self._line = Line()
        self._cond = threading.Condition()
        self._running: _Running | None = None
        self._closed = False
        self._thread = threading.Thread(target=self._serve, name="atelier-model", daemon=True)
        self._thread.start()

    # --- what the waiting threads call ----------------------------------------------------

    def add(self, entry: Entry) -> None:
        with self._cond:
            if self._closed:
                entry.outcome.set_exception(Closed())
                return
            self._line.add(entry)
            self._cond.notify_all()

    def waiting_count(self) -> int:
        with self._cond:
            return len(self._line)

    def is_empty(self) -> bool:
        """Nothing waiting and nothing running (the caller holds the scheduler's lock)."""
        with self._cond:
            return not self._line and self._running is None

    def withdraw(self, entry: Entry) -> None:
        """The job's waiter gave up: out of the line, or out of its batch at the next step."""
        with self._cond:
            entry.left = True
            self._line.remove(entry)

    def waiting(self, entry: Entry) -> tuple[int, float] | None:
        """The job's place in line (from 1) and the seconds until it is done, if nobody else
        comes; None once it runs."""
        with self._cond:
            order = self._line.order()
            if entry not in order:
                return None
            wait_s = self._running_left_s()
            for batch in batches_until(order, entry, self._batching.cap):
                wait_s += self._pace.batch_s(batch[0].work.pace_key, batch_size(batch))
            return order.index(entry) + 1, wait_s

    def backlog_s(self) -> float:
        """Seconds until everything in line and running is done, if nobody else comes."""
        with self._cond:
            planned = batches_until(self._line.order(), None, self._batching.cap)
            return self._running_left_s() + sum(
                self._pace.batch_s(batch[0].work.pace_key, batch_size(batch)) for batch in planned
            )

    def close(self) -> None:
        with self._cond:
            self._closed = True
            for entry in self._line.order():
                self._line.remove(entry)
                entry.outcome.set_exception(Closed())
            self._cond.notify_all()

    # --- the model's thread ---------------------------------------------------------------

    def _serve(self) -> None:
        while (batch := self._next_batch()) is not None:
            try:
                self._run(batch)
            finally:
                with self._cond:
                    self._running = None

    def _next_batch(self) -> list[Entry] | None:
        """The next batch to run, taken out of the line; None when this queue is done."""
        with self._cond:
            while True:
                if self._closed:
                    return None
                if not self._line:
                    if not self._cond.wait(self._batching.idle_s) and not self._line:
                        break  # idle: retire, outside this lock (the scheduler's comes first)
                    continue
                batch = compose(self._line.order(), self._batching.cap)
                left_s = batch[0].arrived + self._batching.window_s - self._clock()
                full = batch_size(batch) >= self._batching.cap(batch[0].work.kind)
                if batch[0].work.shape is None or full or left_s <= 0:
                    return self._take(batch)
                self._cond.wait(left_s)
        return None if self._retire(self) else self._next_batch()

    def _take(self, batch: list[Entry]) -> list[Entry]:
        for entry in batch:
            self._line.remove(entry)
        self._line.served(batch)
        key = batch[0].work.pace_key
        self._running = _Running(key, batch_size(batch), self._clock())
        return batch

    def _running_left_s(self) -> float:
        running = self._running
        if running is None:
            return 0.0
        expected = self._pace.batch_s(running.key, running.size)
        return max(0.0, expected - (self._clock() - running.started))

    def _run(self, batch: list[Entry]) -> None:
        batch = [entry for entry in batch if not entry.settled]
        if not batch:
            return
        head = batch[0].work

        def each_step(done: int, total: int) -> None:
            for entry in batch:
                if entry.settled:
                    continue
                try:
                    entry.work.on_step(done, total)
                except Exception as exc:  # noqa: BLE001 - the job's own outcome (Cancelled)
                    _settle(entry, exc)
            if all(entry.settled for entry in batch):
                raise _NobodyLeft

        started = self._clock()
        try:
            results = head.run([entry.work.item for entry in batch], each_step)
        except _NobodyLeft:
            return
        except Exception as exc:  # noqa: BLE001 - each job's outcome, below
            self._after_failure(batch, exc)
            return
        self._pace.record_batch(head.pace_key, self._clock() - started, batch_size(batch))
        for entry, result in zip(batch, results, strict=True):
            _settle(entry, result)

    def _after_failure(self, batch: list[Entry], exc: Exception) -> None:
        pending = [entry for entry in batch if not entry.settled]
        if len(batch) == 1:
            for entry in pending:
                _settle(entry, exc)
            return
        logger.warning(
            "a batch of %d %s jobs failed (%s: %s); running them one by one",
            len(batch),
            batch[0].work.kind,
            type(exc).__name__,
            exc,
        )
        for entry in pending:
            with self._cond:
                self._running = _Running(entry.work.pace_key, entry.work.size, self._clock())
            self._run([entry])


def _settle(entry: Entry, outcome: object) -> None:
    if entry.outcome.done():
        return
    if isinstance(outcome, BaseException):
        entry.outcome.set_exception(outcome)
    else:
        entry.outcome.set_result(outcome)
