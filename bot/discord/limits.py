"""A per-person rate limit: at most N turns in any 60 seconds, with a friendly refusal.

The agent already bounds tool runs per person (jobs_running + jobs_queued); this limit is in
front of everything a person can start in Discord (messages, slash commands, buttons), so one
person cannot keep the bot's chat model busy for everyone else. It is a sliding window: the
refusal says when the oldest turn in the window ages out. Memory is bounded: a person's
record holds at most N times, and people idle for a minute are swept out.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

WINDOW_S = 60.0


class RateLimiter:
    def __init__(self, per_minute: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._per_minute = per_minute
        self._clock = clock
        self._turns: dict[str, deque[float]] = {}

    def wait_s(self, person: str) -> float | None:
        """None when `person` may go on (and counts this turn); else the seconds to wait."""
        now = self._clock()
        if len(self._turns) > 4 * self._per_minute + 1024:
            self._sweep(now)
        times = self._turns.setdefault(person, deque())
        while times and now - times[0] >= WINDOW_S:
            times.popleft()
        if len(times) >= self._per_minute:
            return WINDOW_S - (now - times[0])
        times.append(now)
        return None

    def refusal(self, wait_s: float) -> str:
        seconds = max(1, round(wait_s))
        return (
            f"Easy there! You've started {self._per_minute} things in the last minute, the most "
            f"I take from one person. Try again in {seconds} s."
        )

    def _sweep(self, now: float) -> None:
        idle = [p for p, times in self._turns.items() if not times or now - times[-1] >= WINDOW_S]
        for person in idle:
            del self._turns[person]
