"""/cancel in the agent: who may stop a run, that it stops within one step, and that nothing
of it is stored (no piece, no file, no message), with the ledger saying it was cancelled."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from agent.cancelling.command import ALREADY_DONE, CANCELLED, NOT_YOURS, NOTHING_RUNNING, USAGE
from agent.ledger.models import Job, JobState
from agent.types import Reply, RunningJob, Turn, UserRef
from bot.console import parse_command
from tests.support.stepping import StepArgs, Stepping
from tests.support.workshop import PLACE, MakeWorkshop, Workshop
from tools.contract import ArtifactDraft, ArtifactKind, Media, Tool, ToolContext

STOPPING = "Stopping the image: nothing of it will be stored."


class Watch:
    """A transport's progress sink that is told the job it reports on (agent/types.py)."""

    def __init__(self) -> None:
        self.jobs: list[RunningJob] = []

    def __call__(self, fraction: float, label: str) -> None:
        return None

    def job_started(self, job: RunningJob) -> None:
        self.jobs.append(job)

    async def job(self) -> RunningJob:
        async with asyncio.timeout(10):
            while not self.jobs:
                await asyncio.sleep(0.01)
        return self.jobs[0]


def ask(studio: Workshop, user: str, line: str, watch: Watch) -> asyncio.Task[Reply]:
    who = UserRef(user, user.title())
    turn = Turn("test", who, PLACE, command=parse_command(line), progress=watch)
    return asyncio.create_task(studio.agent.respond(turn))


async def jobs(studio: Workshop) -> list[Job]:
    async with studio.sessions() as session:
        return list((await session.execute(select(Job).order_by(Job.id))).scalars())


async def test_cancel_stops_the_run_within_one_step_and_stores_nothing(
    make_studio: MakeWorkshop,
) -> None:
    stepping = Stepping()
    studio = make_studio([stepping.tool()])
    watch = Watch()
    making = ask(studio, "ada", "/image a lighthouse", watch)
    await asyncio.to_thread(stepping.wait_for, 3)
    stopping = await studio.command("/cancel", user="ada")
    at_cancel = stepping.steps  # the flag is set by now
    reply = await making

    assert stopping.text == STOPPING and stopping.private and not stopping.stored
    assert reply.text == CANCELLED and not reply.stored and not reply.artifacts
    assert stepping.steps - at_cancel <= 1 and stepping.steps < stepping.total
    assert await studio.artifacts() == [] and await studio.messages() == []
    assert studio.media_files() == []
    [job] = await jobs(studio)
    assert job.state == JobState.CANCELLED and job.finished_at is not None
    # The transport was told the ledger's job, typed; pressing its Cancel now is too late.
    assert watch.jobs == [RunningJob(job.id, "image")]
    assert (await studio.command(f"/cancel job={job.id}")).text == ALREADY_DONE
    assert (await studio.command("/cancel")).text == NOTHING_RUNNING


async def test_nobody_else_may_cancel_a_run(make_studio: MakeWorkshop) -> None:
    stepping = Stepping(total=20, pause_after=1)
    studio = make_studio([stepping.tool()])
    await studio.say("hello", user="bob")  # bob is someone the bot knows
    watch = Watch()
    making = ask(studio, "ada", "/image a lighthouse", watch)
    job = await watch.job()

    refused = await studio.command(f"/cancel job={job.id}", user="bob")
    assert refused.text == NOT_YOURS and refused.private and not refused.stored
    assert (await studio.command("/cancel", user="bob")).text == NOTHING_RUNNING
    assert (await studio.command(f"/cancel job={job.id}", user="cy")).text == NOT_YOURS
    stepping.release.set()
    reply = await making  # ada's run went on to the end
    assert reply.artifacts and stepping.steps == stepping.total
    assert [j.state for j in await jobs(studio)] == [JobState.DONE]


async def test_a_session_host_may_cancel_a_members_run(make_studio: MakeWorkshop) -> None:
    stepping = Stepping()
    studio = make_studio([stepping.tool()])
    await studio.command("/session start mode=free a night market", user="ada")
    for member in ("bob", "cy"):
        await studio.command("/session join", user=member)
    before = len(await studio.messages())
    watch = Watch()
    making = ask(studio, "bob", "/image a lantern", watch)
    job = await watch.job()

    # Another member may not; the host may.
    assert (await studio.command(f"/cancel job={job.id}", user="cy")).text == NOT_YOURS
    assert (await studio.command(f"/cancel job={job.id}", user="ada")).text == STOPPING
    assert (await making).text == CANCELLED
    assert await studio.artifacts() == [] and len(await studio.messages()) == before
    assert [j.state for j in await jobs(studio)] == [JobState.CANCELLED]


async def test_a_run_called_off_in_line_is_answered_at_once_and_never_runs(
    make_studio: MakeWorkshop,
) -> None:
    stepping = Stepping(total=20, pause_after=1)
    studio = make_studio([stepping.tool()])
    first_watch, second_watch = Watch(), Watch()
    first = ask(studio, "ada", "/image one", first_watch)
    await asyncio.to_thread(stepping.wait_for, 1)
    second = ask(studio, "ada", "/image two", second_watch)  # waits for her first
    job = await second_watch.job()

    assert (await studio.command(f"/cancel job={job.id}")).text == STOPPING
    async with asyncio.timeout(10):
        assert (await second).text == CANCELLED
    assert not first.done()  # answered while the run ahead of it still works
    stepping.release.set()
    assert (await first).artifacts
    async with asyncio.timeout(10):
        while studio.jobs.in_the_works(user_id=1):
            await asyncio.sleep(0.01)
    assert stepping.steps == stepping.total  # the second run never took a step
    # A run that never began is no job (as one refused in line).
    assert [j.state for j in await jobs(studio)] == [JobState.DONE]
    assert len(await studio.artifacts()) == 1


async def test_cancel_with_words_or_a_bad_job_is_told_its_usage(
    make_studio: MakeWorkshop,
) -> None:
    studio = make_studio([Stepping().tool()])
    for line in ("/cancel job=abc", "/cancel job=-3", "/cancel everything now", "/cancel x=1"):
        reply = await studio.command(line)
        assert reply.text == USAGE and reply.private and not reply.stored
    assert await studio.messages() == []


def finish_regardless(args: StepArgs, context: ToolContext) -> ArtifactDraft:
    """A tool that never checks: called off, it still hands back a picture."""
    while not context.cancelled.wait(0.01):
        pass
    return ArtifactDraft(ArtifactKind.IMAGE, media=Media(b"P5 1 1 255\n\x00", "image/x-pgm"))


async def test_what_a_run_makes_after_it_was_called_off_is_dropped(
    make_studio: MakeWorkshop,
) -> None:
    stubborn = Tool("image", "Ignores cancel.", ArtifactKind.IMAGE, StepArgs, finish_regardless)
    studio = make_studio([stubborn])
    watch = Watch()
    making = ask(studio, "ada", "/image a lighthouse", watch)
    await watch.job()
    assert (await studio.command("/cancel")).text == STOPPING
    assert (await making).text == CANCELLED
    # Its file was written, then removed again; nothing reached the database.
    assert studio.media_files() == [] and await studio.artifacts() == []
    assert await studio.messages() == []
    assert [j.state for j in await jobs(studio)] == [JobState.CANCELLED]
