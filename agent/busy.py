"""When everyone's queue is full: how long the work in hand will take, and the line that says so.

A text-generation server under load answers "busy" at once rather than queueing without end;
atelier does the same (agent/jobs.py refuses past its global cap). The person is told when to
try again, estimated from what was measured: each tool's recent run durations, as a moving
average, summed over the runs in the works and shared among the worker threads.

The model scheduler (tools/scheduling/) is told the same way how fast each model is at each
shape (seconds per job in a batch, `record_batch`), and says a waiting job's place in line
and when to expect it with `queued_line`: "queued: 3rd in line, about 20 s".
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping

# Before a tool's first run is measured: a guess in the range of a picture or a poem on a
# small GPU. It is replaced by the first measurement.
UNMEASURED_RUN_S = 10.0
# The weight of the newest duration in a tool's moving average: recent runs count most, so
# the estimate follows a model swapped or a machine under other load within a few runs.
SMOOTHING = 0.3


class Busy(Exception):
    """Every place in the queue is taken; the message is the one line the person reads."""

    def __init__(self, wait_s: float) -> None:
        self.wait_s = wait_s
        super().__init__(f"atelier is busy right now; try again in {about(wait_s)}.")


class Throughput:
    """Recent run durations per tool, as exponential moving averages (thread-safe: worker
    threads record, the event loop estimates)."""

    def __init__(self, unmeasured_s: float = UNMEASURED_RUN_S) -> None:
        self._unmeasured_s = unmeasured_s
        self._average_s: dict[str, float] = {}
        self._lock = threading.Lock()

    def record(self, tool: str, seconds: float) -> None:
        with self._lock:
            before = self._average_s.get(tool)
            if before is None:
                self._average_s[tool] = seconds
            else:
                self._average_s[tool] = before + SMOOTHING * (seconds - before)

    def typical_s(self, tool: str) -> float:
        with self._lock:
            return self._average_s.get(tool, self._unmeasured_s)

    def record_batch(self, key: str, seconds: float, size: int) -> None:
        """A batch of `size` jobs at one model and shape (`key`) that took `seconds`: kept
        as seconds per job, so batches of any size teach the same average."""
        self.record(_per_job(key), seconds / max(size, 1))

    def batch_s(self, key: str, size: int) -> float:
        """Seconds a batch of `size` jobs at `key` is expected to take. Before the shape is
        measured, what its kind's (the tool's) runs took."""
        with self._lock:
            per_job_s = self._average_s.get(_per_job(key))
        if per_job_s is None:
            per_job_s = self.typical_s(key.split(" ", 1)[0])
        return per_job_s * max(size, 1)

    def wait_s(self, in_the_works: Mapping[str, int], workers: int) -> float:
        """Seconds until the runs in the works (a count per tool) are done, on `workers`
        threads."""
        total = sum(self.typical_s(tool) * count for tool, count in in_the_works.items())
        return total / max(workers, 1)


def _per_job(key: str) -> str:
    return f"{key} per job"


def queued_line(place: int, wait_s: float) -> str:
    """A waiting job's line: "queued: 3rd in line, about 20 s"."""
    return f"queued: {ordinal(place)} in line, {about(wait_s)}"


def ordinal(number: int) -> str:
    """1st, 2nd, 3rd, 4th ... 11th, 12th, 13th ... 21st."""
    if 10 <= number % 100 <= 20:
        return f"{number}th"
    return f"{number}{ {1: 'st', 2: 'nd', 3: 'rd'}.get(number % 10, 'th') }"


def about(seconds: float) -> str:
    """A wait as a person would say it: "about 20 s", "about 2 min", "about 1 h"."""
    rounded_s = max(5, math.ceil(seconds / 5) * 5)
    if rounded_s < 60:
        return f"about {rounded_s} s"
    minutes = max(1, round(seconds / 60))
    if minutes < 60:
        return f"about {minutes} min"
    return f"about {max(1, round(seconds / 3600))} h"
