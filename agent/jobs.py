"""Running tools: in worker threads, a few per person at a time, each with a deadline.

A tool can take minutes; the event loop must keep serving everyone else meanwhile, so every
run goes to a thread of a pool kept for tools (the default executor stays free for quick
work such as database calls and tokenizing). Each person may have `running` jobs going and
`queued` more waiting; beyond that they are told to wait rather than piling up work nobody
will read. A run past its tool's timeout is abandoned: its cancellation flag is set so the
tool stops at its next check, and its result, if it ever comes, is dropped. A run that has to
wait (behind the person's own, or for a free thread) says so through its progress callback,
with its place in the line, so a transport can show it.

Everyone together may have `queue_cap` runs in the works (running or waiting). Past that a
request is refused at once with Busy, which says when to try again from the measured durations
of the runs ahead (agent/busy.py): work nobody can wait for is never queued, and memory stays
bounded however many people ask at once. A turn that is a tool command takes its place when it
starts (`place_for`), before its database work: in a burst, those past the cap are told at once
rather than after every turn ahead of them has read and written the database.

Fairness comes from the same limit: a person's next run joins the pool's line only when their
previous one ends, so people asking at once are served in turn (round-robin) and one person's
pile of requests never holds up another's, as in a group session where everyone asks at once.

The model work of a run goes through the model scheduler (tools/scheduling/, handed to the
tool as its context's lane): one thread per model runs batches of everyone's compatible jobs,
round-robin across people and their sessions, and tells a waiting person their place in line
and when to expect it ("queued: 3rd in line, about 20 s"), from the throughput measured per
model and shape (agent/busy.py). So the tool threads mostly wait, and there are many of them:
enough for every run in the works to reach the scheduler's line, where the batches form.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Hashable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace
from typing import Protocol

import torch

from agent.busy import Busy, Throughput, queued_line
from tools.contract import ArtifactDraft, Tool, ToolArgs, ToolContext
from tools.scheduling.current import scheduling_for
from tools.scheduling.queue import Batching
from tools.scheduling.scheduler import Scheduler

logger = logging.getLogger(__name__)


class TooManyJobs(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(
            f"You already have {limit} pieces in the works; "
            "please wait for one to finish before asking for another."
        )


class ToolTimedOut(Exception):
    def __init__(self, tool: Tool) -> None:
        super().__init__(
            f"The {tool.name} tool took longer than {tool.timeout_s:g} s and was stopped. "
            "Nothing was stored; try something simpler or try again later."
        )


@dataclass(frozen=True)
class JobLimits:
    running: int = 1
    queued: int = 2
    workers: int = 32  # tool threads for the whole bot; most wait on the model scheduler
    queue_cap: int = 50  # runs in the works for everyone, running or waiting
    batching: Batching = Batching()  # how the model scheduler gathers batches


@dataclass
class _Place:
    """A place in everyone's queue held by a turn for its run of `tool`."""

    tool: str
    taken: bool = False  # by a run of the turn, going on now


class JobRunner(Protocol):
    """Where a run goes once it holds its place within the limits: another process, such as
    a GPU worker over NATS (agent/scaleout/runner.py). It returns the draft or raises what a
    run here would (Cancelled, ToolRefused, ModelUnavailable, ToolTimedOut, an error)."""

    async def run(
        self,
        tool: Tool,
        args: ToolArgs,
        context: ToolContext,
        *,
        owner: int,
        group: Hashable | None = None,
    ) -> ArtifactDraft: ...


# The place the current turn holds, seen by its runs (they await in the turn's own task).
_held: ContextVar[_Place | None] = ContextVar("atelier_held_place", default=None)


class Jobs:
    def __init__(
        self,
        limits: JobLimits,
        *,
        clock: Callable[[], float] = time.monotonic,
        runner: JobRunner | None = None,
    ) -> None:
        self._limits = limits
        self._runner = runner
        self._executor = ThreadPoolExecutor(limits.workers, thread_name_prefix="atelier-tool")
        self._active: dict[int, int] = defaultdict(int)
        # Everyone's runs in the works, by tool: the global cap, and what the wait is made of.
        self._everyone: Counter[str] = Counter()
        self._throughput = Throughput()
        self._clock = clock
        self._scheduler = Scheduler(
            limits.batching, pace=self._throughput, describe=queued_line, clock=clock
        )
        self._running: dict[int, asyncio.Semaphore] = {}
        # Runs handed to the pool: all of them, those a thread has started, those done.
        self._submitted = 0
        self._started = 0
        self._finished = 0
        self._count_lock = threading.Lock()

    async def run(
        self,
        user_id: int,
        tool: Tool,
        args: ToolArgs,
        context: ToolContext,
        *,
        group: Hashable | None = None,
    ) -> ArtifactDraft:
        """Run `tool` for `user_id` (in `group`, their session or conversation: the
        scheduler is fair across a person's too), raising TooManyJobs, Busy, ToolTimedOut
        or the tool's error."""
        with self._slot(user_id, tool):
            own = self._running.setdefault(user_id, asyncio.Semaphore(self._limits.running))
            if own.locked():
                context.progress(0.0, "waiting for your other piece to finish")
            async with own:
                if self._runner is not None:  # elsewhere: the limits above were kept here
                    return await self._runner.run(tool, args, context, owner=user_id, group=group)
                context = replace(context, lane=self._scheduler.lane(user_id, group))
                return await self._run_in_thread(tool, args, context)

    @property
    def runner(self) -> JobRunner | None:
        """Where runs go instead of this process's threads (None: here)."""
        return self._runner

    @property
    def scheduler(self) -> Scheduler:
        """The model scheduler the runs' model work goes through."""
        return self._scheduler

    def in_the_works(self, user_id: int) -> int:
        """The person's jobs running or queued."""
        return self._active.get(user_id, 0)

    def in_the_works_for_everyone(self) -> int:
        """Everyone's jobs running or queued: at most the queue cap."""
        return self._everyone.total()

    def busy(self) -> Busy | None:
        """Busy when everyone's queue is full now, so a turn can be refused before it does
        any other work; None when there is room."""
        if self.in_the_works_for_everyone() < self._limits.queue_cap:
            return None
        return Busy(self.expected_wait_s())

    def expected_wait_s(self) -> float:
        """How long the runs in the works will take, from their tools' measured durations
        shared among the threads, or from the model scheduler's lines (the batches planned
        there at their measured speeds) when those say longer: most runs wait on a model,
        not for a thread."""
        by_tools = self._throughput.wait_s(self._everyone, self._limits.workers)
        return max(by_tools, self._scheduler.backlog_s())

    @contextmanager
    def place_for(self, tool: Tool) -> Iterator[Busy | None]:
        """Hold a place in everyone's queue while a turn that will run `tool` goes on; its run
        of `tool` takes this place rather than another. Yields Busy, holding nothing, when
        the queue is full."""
        if (busy := self.busy()) is not None:
            yield busy
            return
        self._everyone[tool.name] += 1
        token = _held.set(_Place(tool.name))
        try:
            yield None
        finally:
            _held.reset(token)
            self._leave(tool.name)

    def shutdown(self) -> None:
        self._scheduler.shutdown()
        self._executor.shutdown(wait=False, cancel_futures=True)

    @contextmanager
    def _slot(self, user_id: int, tool: Tool) -> Iterator[None]:
        limit = self._limits.running + self._limits.queued
        if self._active.get(user_id, 0) >= limit:
            raise TooManyJobs(limit)
        place = self._held_place(tool)
        if place is None and (busy := self.busy()) is not None:
            raise busy
        self._active[user_id] += 1
        if place is None:
            self._everyone[tool.name] += 1
        else:
            place.taken = True
        try:
            yield
        finally:
            if place is None:
                self._leave(tool.name)
            else:
                place.taken = False
            self._active[user_id] -= 1
            if not self._active[user_id]:
                del self._active[user_id]
                self._running.pop(user_id, None)

    @staticmethod
    def _held_place(tool: Tool) -> _Place | None:
        """The place the current turn holds for `tool`, if no other run of it has it."""
        place = _held.get()
        if place is None or place.tool != tool.name or place.taken:
            return None
        return place

    def _leave(self, tool: str) -> None:
        self._everyone[tool] -= 1
        if not self._everyone[tool]:
            del self._everyone[tool]

    async def _run_in_thread(
        self, tool: Tool, args: ToolArgs, context: ToolContext
    ) -> ArtifactDraft:
        # The context's own flag, so whoever else may cancel the run (a Cancel button) and
        # the timeout below stop it the same way.
        cancelled = context.cancelled
        loop = asyncio.get_running_loop()
        ahead = self._waiting_for_a_thread()
        if ahead >= 0:
            context.progress(0.0, f"queued: {ahead + 1} in line")
        with self._count_lock:
            self._submitted += 1
        work = loop.run_in_executor(self._executor, self._started_run, tool, args, context)
        try:
            return await asyncio.wait_for(work, tool.timeout_s)
        except TimeoutError:
            cancelled.set()
            raise ToolTimedOut(tool) from None
        except asyncio.CancelledError:
            cancelled.set()
            raise

    def _waiting_for_a_thread(self) -> int:
        """How many runs wait for a free thread ahead of a new one; -1 when one is free."""
        with self._count_lock:
            busy_or_waiting = self._submitted - self._finished
            waiting = self._submitted - self._started
        return waiting if busy_or_waiting >= self._limits.workers else -1

    def _started_run(self, tool: Tool, args: ToolArgs, context: ToolContext) -> ArtifactDraft:
        with self._count_lock:
            self._started += 1
        started_at = self._clock()
        try:
            # Model work the tool's helpers do without its context goes through its lane too.
            with scheduling_for(context.schedule):
                draft = run_with_oom_retry(tool.run, args, context)
        finally:
            with self._count_lock:
                self._finished += 1
        # Only runs that made something: a refusal at the first check takes no time and
        # would make the wait look shorter than the work is.
        self._throughput.record(tool.name, self._clock() - started_at)
        return draft


def run_with_oom_retry(
    run: Callable[[ToolArgs, ToolContext], ArtifactDraft], args: ToolArgs, context: ToolContext
) -> ArtifactDraft:
    """Run once more after a CUDA out-of-memory error, with the cache emptied first."""
    try:
        return run(args, context)
    except torch.OutOfMemoryError:
        logger.warning("out of GPU memory; freeing cached memory and retrying once")
    # Outside the except block: the exception's traceback holds the frames (and tensors) of
    # the failed run until the block ends, so memory can only be freed here.
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    return run(args, context)
