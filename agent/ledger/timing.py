"""The seconds a tool spends running in its worker thread: what the ledger records and the
daily quota counts (GPU time when the tools run on a GPU), not the time it waited in line."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import replace

from tools.contract import ArtifactDraft, Tool, ToolArgs, ToolContext


class RunClock:
    """Counts one job's running time; read on the event loop while the worker thread runs."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._spent = 0.0
        self._since: float | None = None
        self._started = False

    @property
    def started(self) -> bool:
        """Whether the tool began to run at all (a refused or queued-out job never did)."""
        with self._lock:
            return self._started

    def seconds(self) -> float:
        """Seconds run so far: every try (an out-of-memory retry runs twice), and a run still
        going counts up to now (one abandoned at its timeout)."""
        with self._lock:
            running = 0.0 if self._since is None else time.monotonic() - self._since
            return self._spent + running

    @contextmanager
    def counting(self) -> Iterator[None]:
        """While the job's run is awaited in this task: a run in another process (a worker
        over NATS) reports the seconds it took to this clock (`ran_elsewhere`)."""
        token = _this_run.set(self)
        try:
            yield
        finally:
            _this_run.reset(token)

    def add(self, seconds: float) -> None:
        """Seconds the tool ran somewhere else: it did begin, and they count."""
        with self._lock:
            self._started = True
            self._spent += max(0.0, seconds)

    def timing(self, tool: Tool) -> Tool:
        """`tool`, its run counted by this clock."""
        run = tool.run

        def timed_run(args: ToolArgs, context: ToolContext) -> ArtifactDraft:
            self._begin()
            try:
                return run(args, context)
            finally:
                self._end()

        return replace(tool, run=timed_run)

    def _begin(self) -> None:
        with self._lock:
            self._started = True
            self._since = time.monotonic()

    def _end(self) -> None:
        with self._lock:
            if self._since is not None:
                self._spent += time.monotonic() - self._since
            self._since = None


_this_run: ContextVar[RunClock | None] = ContextVar("atelier_run_clock", default=None)


def ran_elsewhere(seconds: float) -> None:
    """The current job's tool ran for `seconds` in another process: the ledger records them
    and the daily quota counts them, as for a run in this process's threads."""
    clock = _this_run.get()
    if clock is not None:
        clock.add(seconds)
