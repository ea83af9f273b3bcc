"""The runs in the works, by job id, each with the flag that stops it and who may pull it.

A run is registered by the studio for as long as it is in the works: in line, running in its
worker thread, and while its files are written. Whatever runs the tool (agent/jobs.py, or a
scheduler that batches) hands it a ToolContext whose `cancelled` flag it checks between
steps; the run's own flag is that context's, and the flag a runner puts in its place is
linked when the tool starts, so either way the tool stops at its next check.

A run still in line is answered at once: its turn does not wait for a thread to free up only
to hear that it stopped. Its tool never begins when a thread does take it (`tool` refuses to
start a called-off run), so nothing it would make exists to be stored.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import threading
from collections.abc import Awaitable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace
from typing import TypeVar

from tools.contract import ArtifactDraft, Cancelled, Tool, ToolArgs, ToolContext

logger = logging.getLogger(__name__)

T = TypeVar("T")

# The job id of the run in the works in this task: a runner that sends the run to another
# process (agent/scaleout/runner.py) names the job by it.
current_job: ContextVar[int | None] = ContextVar("atelier_current_job", default=None)


@dataclass(frozen=True)
class JobOwner:
    """Who may cancel a run: the person who asked, and the host of the group session it was
    asked in (None outside one)."""

    user_id: int
    session_id: int | None = None


class Cancellable:
    """One run in the works. Called off from the event loop; its tool reads the flags from a
    worker thread, so what both sides read is under one lock."""

    def __init__(self, job_id: int, owner: JobOwner, tool: str) -> None:
        self.job_id = job_id
        self.owner = owner
        self.tool_name = tool
        self.flag = threading.Event()  # the ToolContext.cancelled the studio hands on
        self._lock = threading.Lock()
        self._linked: list[threading.Event] = []  # flags a runner gave the tool instead
        self._started = False
        self._called_off = False
        self._closed = False
        self._woken = asyncio.Event()  # wakes `guard` on the event loop

    @property
    def called_off(self) -> bool:
        with self._lock:
            return self._called_off

    def cancel(self) -> bool:
        """Stop the run at its next step; False when it is past stopping (its piece made)."""
        with self._lock:
            if self._closed:
                return False
            self._called_off = True
            flags = [self.flag, *self._linked]
        for flag in flags:
            flag.set()
        self._woken.set()
        return True

    def close(self) -> bool:
        """The run is over as far as cancelling goes; True when it was called off first (what
        it made must then be dropped)."""
        with self._lock:
            self._closed = True
            return self._called_off

    def tool(self, tool: Tool) -> Tool:
        """`tool`, whose run links the flag its runner handed it and never begins once the
        run was called off."""
        run = tool.run

        def cancellable_run(args: ToolArgs, context: ToolContext) -> ArtifactDraft:
            with self._lock:
                self._started = True
                if context.cancelled is not self.flag:
                    self._linked.append(context.cancelled)
                stop = self._called_off
            if stop:
                raise Cancelled()
            return run(args, context)

        return replace(tool, run=cancellable_run)

    async def guard(self, work: Awaitable[T]) -> T:
        """What `work` returns; Cancelled at once when the run is called off before its tool
        began (its work is left to end by itself, as `tool` makes it), else when it stops."""
        task = asyncio.ensure_future(work)
        woken = asyncio.ensure_future(self._woken.wait())
        try:
            await asyncio.wait({task, woken}, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            task.cancel()
            raise
        finally:
            woken.cancel()
        with self._lock:
            in_line = not self._started and not task.done()
        if not in_line:
            return await task  # running: the tool raises Cancelled at its next check
        task.add_done_callback(_ended_in_line)
        raise Cancelled()


def _ended_in_line(task: asyncio.Future[object]) -> None:
    """A run called off in line ends by itself later; what it ends with was already told."""
    if not task.cancelled() and task.exception() is not None:
        logger.debug("a run called off in line ended with %r", task.exception())


class RunningJobs:
    """The runs in the works, by job id (the ledger's, where there is one)."""

    def __init__(self) -> None:
        self._jobs: dict[int, Cancellable] = {}
        # Ids for runs without a ledger row; far above any ledger id they could meet.
        self._minted = itertools.count(2**53)

    def new_id(self) -> int:
        return next(self._minted)

    @contextmanager
    def running(self, job_id: int, owner: JobOwner, tool: str) -> Iterator[Cancellable]:
        run = Cancellable(job_id, owner, tool)
        self._jobs[job_id] = run
        token = current_job.set(job_id)
        try:
            yield run
        finally:
            current_job.reset(token)
            run.close()
            self._jobs.pop(job_id, None)

    def get(self, job_id: int) -> Cancellable | None:
        return self._jobs.get(job_id)

    def owned_by(self, user_id: int) -> list[Cancellable]:
        """The person's runs in the works, oldest first."""
        return [run for run in self._jobs.values() if run.owner.user_id == user_id]
