"""Fair across people through the job limits and the model scheduler, and the line a waiting
person reads: their place and when to expect it, from the throughput measured per shape."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from agent.busy import Busy, Throughput, queued_line
from agent.jobs import JobLimits, Jobs
from tests.support.studio_tools import VerseArgs
from tests.tools.scheduling.helpers import WAIT_S, FakeModel, in_thread, until
from tools.contract import ArtifactDraft, ArtifactKind, Tool, ToolContext
from tools.scheduling.current import through_the_line
from tools.scheduling.queue import Batching
from tools.scheduling.scheduler import Scheduler
from tools.scheduling.work import Work


async def test_the_second_person_s_first_job_starts_before_the_first_person_s_third() -> None:
    started: list[str] = []
    lock = threading.Lock()
    model = object()
    asked = threading.Semaphore(0)

    def one(items: list[str], _on_step: object) -> list[str]:
        with lock:
            started.extend(items)
            first = len(started) == 1
        if first:  # the model is busy with it while everyone's jobs queue behind it
            for _ in range(20):
                asked.acquire(timeout=WAIT_S)
        return items

    def work(args: VerseArgs, context: ToolContext) -> ArtifactDraft:
        asked.release()
        made = context.schedule(Work(model=model, kind="verse", item=args.prompt, run=one))
        return ArtifactDraft(ArtifactKind.POEM, text=made)

    tool = Tool("work", "Work a little.", ArtifactKind.POEM, VerseArgs, work)
    # Limits per person high enough that all ten of each reach the scheduler's line.
    jobs = Jobs(JobLimits(running=10, queued=10, workers=20, queue_cap=40))
    try:
        first = [jobs.run(1, tool, VerseArgs(prompt=f"1-{n}"), ToolContext()) for n in range(10)]
        second = [jobs.run(2, tool, VerseArgs(prompt=f"2-{n}"), ToolContext()) for n in range(10)]
        await asyncio.gather(*first, *second)
    finally:
        jobs.shutdown()
    assert len(started) == 20
    firsts = [index for index, item in enumerate(started) if item.startswith("1-")]
    seconds = [index for index, item in enumerate(started) if item.startswith("2-")]
    assert seconds[0] < firsts[2]


def test_a_waiting_job_is_told_its_place_and_when_to_expect_it() -> None:
    throughput = Throughput()
    model = FakeModel()
    # Measured: at this shape a job takes 10 s (a batch of two took 20 s).
    throughput.record_batch(model.work("x").pace_key, 20.0, 2)
    scheduler = Scheduler(
        Batching(window_s=0, max_size=(("fake", 1),)),
        pace=throughput,
        describe=queued_line,
        clock=lambda: 0.0,  # no time passes: the running job has all of its 10 s left
    )
    told: list[str] = []
    with ThreadPoolExecutor(4) as pool:
        running = in_thread(pool, scheduler.lane("ann"), model.work("gate"))
        model.holding.wait(WAIT_S)
        ahead = in_thread(pool, scheduler.lane("bo"), model.work("bo"))
        until(lambda: scheduler.waiting(model) == 1)
        mine = in_thread(
            pool, scheduler.lane("cy"), model.work("cy"), lambda _f, line: told.append(line)
        )
        until(lambda: bool(told))
        model.gate.set()
        for job in (running, ahead, mine):
            job.result(WAIT_S)
    scheduler.shutdown()
    # The running job's 10 s, Bo's 10 s, then Cy's own.
    assert told[0] == "queued: 2nd in line, about 30 s"


async def test_busy_says_how_long_the_model_s_line_will_take() -> None:
    model = FakeModel()

    def work(args: VerseArgs, context: ToolContext) -> ArtifactDraft:
        return ArtifactDraft(ArtifactKind.POEM, text=context.schedule(model.work(args.prompt)))

    tool = Tool("fake", "Waits for the fake model.", ArtifactKind.POEM, VerseArgs, work)
    batching = Batching(window_s=0, max_size=(("fake", 1),))
    # Many threads, and a clock that stands still: nothing measured, 10 s a job.
    jobs = Jobs(JobLimits(workers=32, queue_cap=3, batching=batching), clock=lambda: 0.0)
    try:
        asked = [
            asyncio.create_task(jobs.run(person, tool, VerseArgs(prompt=item), ToolContext()))
            for person, item in ((1, "gate"), (2, "b"), (3, "c"))
        ]
        await asyncio.to_thread(until, lambda: jobs.scheduler.waiting(model) == 2)
        with pytest.raises(Busy) as refused:
            await jobs.run(4, tool, VerseArgs(prompt="d"), ToolContext())
        model.gate.set()
        await asyncio.gather(*asked)
    finally:
        jobs.shutdown()
    # The one running and the two in line, one at a time; the 32 threads do not share them.
    assert str(refused.value) == "atelier is busy right now; try again in about 30 s."


async def test_model_work_deep_in_a_tool_waits_in_the_model_s_line_and_says_so() -> None:
    model = FakeModel()

    def work(args: VerseArgs, context: ToolContext) -> ArtifactDraft:
        # As a poem's helpers sample text: no context at hand, only the model.
        made = through_the_line(model.work(args.prompt, shape=None))
        return ArtifactDraft(ArtifactKind.POEM, text=made)

    tool = Tool("verse", "Samples a verse.", ArtifactKind.POEM, VerseArgs, work)
    told: list[str] = []
    jobs = Jobs(JobLimits(workers=4), clock=lambda: 0.0)  # nothing measured: 10 s a job
    try:
        first = asyncio.create_task(jobs.run(1, tool, VerseArgs(prompt="gate"), ToolContext()))
        await asyncio.to_thread(model.holding.wait, WAIT_S)
        context = ToolContext(progress=lambda _fraction, line: told.append(line))
        second = asyncio.create_task(jobs.run(2, tool, VerseArgs(prompt="b"), context))
        await asyncio.to_thread(until, lambda: bool(told))
        model.gate.set()
        drafts = await asyncio.gather(first, second)
    finally:
        jobs.shutdown()
    assert [draft.text for draft in drafts] == ["GATE", "B"]
    assert told[0] == "queued: 1st in line, about 20 s"
