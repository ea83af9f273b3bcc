"""The Cancel button under a progress message, end to end: the real discord.py client against
the fake Discord, over a Workshop whose image tool works in steps (tests/support/stepping.py).
"""

from __future__ import annotations

from sqlalchemy import select

from agent.cancelling.command import ALREADY_DONE, CANCELLED, NOT_YOURS
from agent.ledger.models import Job, JobState
from tests.bot import test_discord_commands as commands_tests
from tests.bot.test_discord_commands import Scene, Stage
from tests.bot.test_discord_sessions import settled, start
from tests.support.fake_discord import InteractionLog, Payload, SentMessage
from tests.support.stepping import Stepping

# The fake Discord and the bot over a Workshop, as the slash command tests run them.
fake = commands_tests.fake
stage = commands_tests.stage

STOPPING = "Stopping the image: nothing of it will be stored."


async def progress_with_cancel(scene: Scene, log: InteractionLog) -> tuple[SentMessage, str]:
    """The "thinking..." message once it shows a Cancel button, and the button's custom id."""

    def cancels(body: Payload) -> list[str]:
        shown = SentMessage(log.id, log.channel_id, body)
        return [c for c in shown.buttons if c.startswith("atelier:cancel:")]

    await scene.fake.wait_for(lambda: any(cancels(edit.body) for edit in log.edits), timeout=20)
    body = next(edit.body for edit in log.edits if cancels(edit.body))
    [custom_id] = cancels(body)
    return SentMessage(log.id, log.channel_id, body), custom_id


async def press(
    scene: Scene, user: Payload, message: SentMessage, custom_id: str
) -> InteractionLog:
    log = await scene.fake.click(user, message, custom_id, guild_id=scene.guild)
    return await settled(scene, log)


async def test_the_requester_cancels_under_the_progress_and_nobody_else_may(
    stage: Stage,
) -> None:
    stepping = Stepping()
    async with stage([stepping.tool()]) as scene:
        log = await scene.slash(scene.ada, "image", prompt="a lighthouse")
        progress, cancel = await progress_with_cancel(scene, log)
        assert progress.content.startswith("⏳ image") and progress.buttons[cancel] == "Cancel"

        refused = await press(scene, scene.bob, progress, cancel)
        assert refused.private and refused.said == NOT_YOURS
        pressed = await press(scene, scene.ada, progress, cancel)
        assert pressed.private and pressed.said == STOPPING
        await scene.answered(log, followups=0)
        late = await press(scene, scene.ada, progress, cancel)  # after the run ended
        async with scene.studio.sessions() as session:
            [job] = (await session.execute(select(Job))).scalars()
        artifacts = await scene.artifacts()

    # The progress message says so, and its Cancel button is gone; nothing was posted.
    assert log.said == CANCELLED and not log.followups
    assert SentMessage(log.id, log.channel_id, log.edits[-1].body).buttons == {}
    assert late.private and late.said == ALREADY_DONE
    assert cancel == f"atelier:cancel:{job.id}" and job.state == JobState.CANCELLED
    assert artifacts == [] and stepping.steps < stepping.total


async def test_a_session_host_cancels_a_members_image_in_the_thread(stage: Stage) -> None:
    stepping = Stepping()
    async with stage([stepping.tool()]) as scene:
        session = await start(scene, scene.ada, "a night market")
        await session.slash(scene.bob, "join")
        log = await scene.fake.slash(
            scene.bob, "image", channel_id=session.thread, guild_id=scene.guild, prompt="a lantern"
        )
        progress, cancel = await progress_with_cancel(scene, log)
        pressed = await press(scene, scene.ada, progress, cancel)
        await scene.answered(log, followups=0)
        artifacts = await scene.artifacts()

    assert pressed.private and pressed.said == STOPPING
    assert log.said == CANCELLED and artifacts == []
