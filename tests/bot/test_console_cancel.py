"""/cancel in the terminal: typed while a picture is being made on the tiny image model, it
stops the run within one step, and nothing of it is stored."""

from __future__ import annotations

import asyncio
import io
import os

from sqlalchemy import select

from agent.cancelling.command import CANCELLED
from agent.ledger.models import Job, JobState
from bot.console import ConsoleChat
from tests.support.stepping import StepCounter, counting_steps
from tests.support.workshop import MakeWorkshop
from tools.image.tool import IMAGE_TOOL
from tools.models.registry import ModelRegistry


async def test_cancel_typed_during_an_image_stops_it_and_stores_nothing(
    make_studio: MakeWorkshop, tiny_models: ModelRegistry
) -> None:
    counter = StepCounter()
    # 100 steps of at least 50 ms: five seconds for the /cancel to arrive midway.
    studio = make_studio([counting_steps(IMAGE_TOOL, counter, step_s=0.05)], models=tiny_models)
    read_end, write_end = os.pipe()
    stdin, typing = os.fdopen(read_end, "r"), os.fdopen(write_end, "w")
    stdout = io.StringIO()
    console = ConsoleChat(studio.agent, user="ada", interactive=False, stdin=stdin, stdout=stdout)
    running = asyncio.create_task(console.run())
    try:
        typing.write("/image steps=100 a lighthouse in fog\n")
        typing.flush()
        await asyncio.to_thread(counter.wait_for, 3)  # the model is denoising
        typing.write("/cancel\n")
        typing.flush()
        async with asyncio.timeout(30):
            while "Stopping" not in stdout.getvalue():
                await asyncio.sleep(0.005)
        at_cancel = counter.steps  # the run's flag is set by now
        typing.close()  # the end of the input: the console ends after the last reply
        async with asyncio.timeout(60):
            await running
    finally:
        typing.close()
        stdin.close()

    stopping, answer = stdout.getvalue().split("\n\n")[:2]
    assert stopping == "Stopping the image: nothing of it will be stored."
    assert answer == CANCELLED  # the request's own answer
    assert counter.steps - at_cancel <= 1 and counter.steps < 100
    assert await studio.artifacts() == [] and await studio.messages() == []
    assert studio.media_files() == []
    async with studio.sessions() as session:
        [job] = (await session.execute(select(Job))).scalars()
    assert job.state == JobState.CANCELLED
