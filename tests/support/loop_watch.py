"""Watching the event loop while a turn runs: asyncio's debug mode reports every callback over
100 ms, and a ticker measures the longest gap between its 10 ms sleeps. Either one catches a
turn that blocks the loop (a model, a hash or an fsync run on it)."""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import pytest

SLOW_S = 0.1
TICK_S = 0.01


@dataclass
class LoopWatch:
    gaps: list[float] = field(default_factory=list)
    slow: list[str] = field(default_factory=list)

    @property
    def blocked(self) -> bool:
        return bool(self.slow) or max(self.gaps, default=0.0) >= SLOW_S + TICK_S


@asynccontextmanager
async def watching_the_loop(caplog: pytest.LogCaptureFixture) -> AsyncIterator[LoopWatch]:
    loop = asyncio.get_running_loop()
    loop.set_debug(True)
    loop.slow_callback_duration = SLOW_S
    caplog.set_level(logging.WARNING, logger="asyncio")
    watch = LoopWatch()

    async def tick() -> None:
        while True:
            started = time.perf_counter()
            await asyncio.sleep(TICK_S)
            watch.gaps.append(time.perf_counter() - started)

    # Late in a full run the test process holds a large heap (models, tensors, thousands of
    # objects from earlier tests): a full garbage collection landing inside the watch stops
    # the loop for most of a second whatever the code under test does. Collect now and set
    # what exists aside, so what is measured is the code's own blocking.
    gc.collect()
    gc.freeze()
    ticker = asyncio.create_task(tick())
    try:
        yield watch
    finally:
        ticker.cancel()
        gc.unfreeze()
        watch.slow.extend(
            r.getMessage()
            for r in caplog.records
            if r.name == "asyncio" and "took" in r.getMessage()
        )
