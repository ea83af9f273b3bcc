"""How a tool hands its work over: a Lane is the scheduler as one requester sees it (who they
are is an opaque key the tool never reads). ALONE, the default, runs the work at once on the
calling thread, as a tool called outside the agent (a test, a bench) expects."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from tools.scheduling.work import Item, Result, Work, run_alone

# The job's progress callback: (fraction, label), as ToolContext.progress.
Report = Callable[[float, str], None]
# Raises when the job was cancelled (ToolContext.check).
Check = Callable[[], None]


class Lane(Protocol):
    def run(self, work: Work[Item, Result], progress: Report, check: Check) -> Result: ...


class Alone:
    """No scheduler: the work runs now, alone."""

    def run(self, work: Work[Item, Result], progress: Report, check: Check) -> Result:
        check()
        return run_alone(work)


ALONE = Alone()
