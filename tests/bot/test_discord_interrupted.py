"""After a crash, on Discord: the bot, back over a new Agent on the same database, tells the
owner of a job the crash interrupted, in the channel where they asked, once."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from agent.ledger.interrupted import mark_interrupted
from agent.ledger.models import Job, JobState
from agent.store.db import User
from tests.bot.test_discord_commands import IMAGE, POEM, Scene, Stage, fake, stage
from tests.support.workshop import MakeWorkshop

__all__ = ["fake", "stage"]  # the fixtures


async def killed_mid_image(scene: Scene, *, dm: str | None = None) -> None:
    """What a kill -9 during Ada's picture leaves: her job's row, still running (asked for in
    the scene's channel, or in the DM `dm`)."""
    async with scene.studio.sessions() as session, session.begin():
        ada = await session.scalar(select(User.id).where(User.external_id == scene.ada["id"]))
        assert ada is not None
        session.add(
            Job(
                user_id=ada,
                platform="discord",
                guild_id=None if dm else scene.guild,
                channel_id=dm or scene.channel,
                tool="image",
                summary="a red fox in the snow",
                state=JobState.RUNNING,
            )
        )


async def back_over_a_new_agent(scene: Scene, make_studio: MakeWorkshop) -> None:
    """The next process: its start marks the jobs left running, then the bot connects."""
    await scene.stop()
    await scene.studio.agent.close()
    await mark_interrupted(scene.studio.sessions)  # as open_agent does before any turn
    scene.studio = make_studio([IMAGE, POEM])
    await scene.start()
    await asyncio.gather(*scene.studio.agent._rearming)  # noqa: SLF001 - its start-up work


async def test_the_owner_is_told_in_the_channel_once_the_bot_is_back(
    stage: Stage, make_studio: MakeWorkshop
) -> None:
    async with stage() as scene:
        await scene.answered(await scene.slash(scene.ada, "poem", prompt="the tide"))
        await killed_mid_image(scene)
        before = len(scene.fake.sent)
        await back_over_a_new_agent(scene, make_studio)
        told = scene.fake.sent[before:]
        await back_over_a_new_agent(scene, make_studio)  # and once more: nothing new to say
        again = scene.fake.sent[before + len(told) :]

    [message] = told
    assert message.channel_id == scene.channel
    assert message.content == (
        "Ada, your image ('a red fox in the snow') was interrupted when atelier stopped; "
        "nothing was stored. Ask again when you like."
    )
    assert message.allowed_mentions is not None and message.allowed_mentions["parse"] == []
    assert again == []


async def test_the_owner_of_a_job_asked_for_in_a_dm_is_told_there(
    stage: Stage, make_studio: MakeWorkshop
) -> None:
    async with stage() as scene:
        dm = scene.fake.dm_channel(scene.ada)
        await scene.answered(await scene.slash(scene.ada, "poem", prompt="the tide"))
        await killed_mid_image(scene, dm=dm)
        before = len(scene.fake.sent)
        await back_over_a_new_agent(scene, make_studio)
        told = scene.fake.sent[before:]

    [message] = told
    assert message.channel_id == dm
    assert message.content.startswith("Ada, your image ('a red fox in the snow') was interrupted")
