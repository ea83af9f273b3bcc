"""What the scheduler is told of speed, and how it speaks of a wait: both come from the agent
(agent/busy.py's Throughput and its line), so this folder stays free of it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol


class Pace(Protocol):
    """Measured seconds per batch, by kind and shape (a moving average, thread-safe)."""

    def record_batch(self, key: str, seconds: float, size: int) -> None: ...

    def batch_s(self, key: str, size: int) -> float: ...


# The line a waiting job shows: (place in line from 1, expected seconds until it is done).
Describe = Callable[[int, float], str]


class Unmeasured:
    """A pace that knows nothing: every batch a guess."""

    def __init__(self, guess_s: float = 10.0) -> None:
        self._guess_s = guess_s

    def record_batch(self, key: str, seconds: float, size: int) -> None:
        return None

    def batch_s(self, key: str, size: int) -> float:
        return self._guess_s


def plain_line(place: int, wait_s: float) -> str:
    return f"queued: {place} in line, about {wait_s:.0f} s"
