"""The global queue cap: past it, a request is refused at once with when to try again, and the
estimate comes from what was measured."""

from __future__ import annotations

import asyncio
import itertools
import re
import threading

import pytest

from agent.busy import Busy, Throughput, about
from agent.jobs import JobLimits, Jobs
from agent.store.people import find_user
from tests.support.studio_tools import VERSE, Stall, StallArgs, stall_tool
from tests.support.workshop import MakeWorkshop
from tools.contract import ArtifactDraft, ArtifactKind, Tool, ToolContext

BUSY_LINE = re.compile(r"atelier is busy right now; try again in about \d+ (s|min|h)\.")


async def until_in_the_works(jobs: Jobs, count: int) -> None:
    async with asyncio.timeout(10):
        while jobs.in_the_works_for_everyone() < count:
            await asyncio.sleep(0.01)


def ask(jobs: Jobs, person: int, tool: Tool) -> asyncio.Task[ArtifactDraft]:
    return asyncio.create_task(jobs.run(person, tool, StallArgs(), ToolContext()))


async def test_the_51st_job_is_refused_as_busy_and_the_50_accepted_all_finish() -> None:
    stall = Stall()
    tool = stall_tool(stall)
    jobs = Jobs(JobLimits(workers=2, queue_cap=50))
    try:
        accepted = [ask(jobs, person, tool) for person in range(1, 51)]
        await until_in_the_works(jobs, 50)
        with pytest.raises(Busy) as refused:
            await jobs.run(51, tool, StallArgs(), ToolContext())
        # Nothing measured yet: 50 runs at the default 10 s each, on two threads.
        assert str(refused.value) == "atelier is busy right now; try again in about 4 min."
        stall.release.set()
        drafts = await asyncio.gather(*accepted)
    finally:
        jobs.shutdown()
    assert [draft.text for draft in drafts] == ["a long note"] * 50
    assert jobs.in_the_works_for_everyone() == 0


async def test_a_finished_run_frees_its_place() -> None:
    stall = Stall()
    tool = stall_tool(stall)
    jobs = Jobs(JobLimits(workers=1, queue_cap=1))
    try:
        first = ask(jobs, 1, tool)
        await until_in_the_works(jobs, 1)
        with pytest.raises(Busy):
            await jobs.run(2, tool, StallArgs(), ToolContext())
        stall.release.set()
        await first
        later = await jobs.run(2, tool, StallArgs(), ToolContext())
    finally:
        jobs.shutdown()
    assert later.text == "a long note"


class Gate:
    """A tool that passes while its gate is open and waits at it while it is shut."""

    def __init__(self) -> None:
        self.open = threading.Event()

    def run(self, args: StallArgs, context: ToolContext) -> ArtifactDraft:
        self.open.wait(10)
        return ArtifactDraft(ArtifactKind.POEM, text="through")

    def tool(self) -> Tool:
        return Tool("gate", "Waits at a gate.", ArtifactKind.POEM, StallArgs, self.run)


async def test_the_estimate_follows_the_measured_durations() -> None:
    # A clock that moves 40 s each time it is read: every run measures 40 s.
    readings = itertools.count(0, 40)
    gate = Gate()
    jobs = Jobs(JobLimits(workers=1, queue_cap=3), clock=lambda: float(next(readings)))
    try:
        gate.open.set()
        await jobs.run(1, gate.tool(), StallArgs(), ToolContext())  # measured: 40 s
        gate.open.clear()
        held = [ask(jobs, person, gate.tool()) for person in (1, 2, 3)]
        await until_in_the_works(jobs, 3)
        with pytest.raises(Busy) as refused:
            await jobs.run(4, gate.tool(), StallArgs(), ToolContext())
        gate.open.set()
        await asyncio.gather(*held)
    finally:
        jobs.shutdown()
    # Three runs of 40 s ahead on one thread; unmeasured, it would have said about 30 s.
    assert str(refused.value) == "atelier is busy right now; try again in about 2 min."


def test_each_tool_s_moving_average_weighs_recent_runs_most() -> None:
    throughput = Throughput(unmeasured_s=10.0)
    throughput.record("image", 60.0)
    for _ in range(20):
        throughput.record("poem", 2.0)
    assert throughput.typical_s("music") == 10.0  # not measured yet
    assert throughput.typical_s("poem") == pytest.approx(2.0)
    # Two pictures and ten poems ahead, on two threads: (120 + 20) / 2.
    assert throughput.wait_s({"image": 2, "poem": 10}, workers=2) == pytest.approx(70.0)
    throughput.record("image", 20.0)
    assert throughput.typical_s("image") == pytest.approx(48.0)  # moved toward 20, not to it


@pytest.mark.parametrize(
    ("seconds", "said"),
    [(0.4, "about 5 s"), (18, "about 20 s"), (100, "about 2 min"), (7200, "about 2 h")],
)
def test_a_wait_is_said_as_a_person_would_say_it(seconds: float, said: str) -> None:
    assert about(seconds) == said


async def test_a_command_past_the_cap_is_answered_busy_before_any_database_work(
    make_studio: MakeWorkshop,
) -> None:
    stall = Stall()
    studio = make_studio([stall_tool(stall)], limits=JobLimits(queue_cap=1))
    running = asyncio.create_task(studio.command("/stall one", user="ada"))
    await until_in_the_works(studio.jobs, 1)
    refused = await studio.command("/stall two", user="bob")
    stall.release.set()
    made = await running
    assert BUSY_LINE.fullmatch(refused.text) and not refused.artifacts
    assert [artifact.id for artifact in await studio.artifacts()] == [
        artifact.number for artifact in made.artifacts
    ]
    async with studio.sessions() as session:  # refused first: bob was never even added
        assert await find_user(session, "test", "bob") is None
        assert await find_user(session, "test", "ada") is not None


async def test_a_turn_s_place_is_taken_by_its_run_and_freed_when_the_turn_ends(
    make_studio: MakeWorkshop,
) -> None:
    studio = make_studio([VERSE], limits=JobLimits(queue_cap=1))
    first = await studio.command("/verse a heron")
    second = await studio.command("/verse a crane", user="bob")
    assert first.artifacts and second.artifacts  # the turn's run used the turn's own place
    assert studio.jobs.in_the_works_for_everyone() == 0
