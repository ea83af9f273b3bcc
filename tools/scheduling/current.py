"""Model work from code that is not handed the tool's context (a poem's text sampling deep in
its helpers, a critique's reading): it goes through the lane of the tool run on this thread,
set by whoever runs the tool (agent/jobs.py), and runs alone, at once, where none is set."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from tools.scheduling.work import Item, Result, Work, run_alone

Schedule = Callable[[Work[Any, Any]], Any]  # ToolContext.schedule of the run

_this_thread = threading.local()


@contextmanager
def scheduling_for(schedule: Schedule) -> Iterator[None]:
    """While a tool runs on this thread, its model work goes through `schedule`."""
    before = getattr(_this_thread, "schedule", None)
    _this_thread.schedule = schedule
    try:
        yield
    finally:
        _this_thread.schedule = before


def through_the_line(work: Work[Item, Result]) -> Result:
    """The work's result, from the line of the tool run on this thread, or made here."""
    schedule: Schedule | None = getattr(_this_thread, "schedule", None)
    return run_alone(work) if schedule is None else schedule(work)
