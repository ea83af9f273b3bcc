"""The Undo button under a piece with a previous version, through the fake Discord: the
owner's press makes the previous version the focus again (privately); others are refused."""

from __future__ import annotations

from tests.bot.test_discord_commands import Stage, fake, stage  # noqa: F401, F811 - fixtures


async def test_undo_button_under_a_variation_goes_back_and_deletes_nothing(
    stage: Stage,  # noqa: F811 - the fixture
) -> None:
    async with stage() as scene:
        made = await scene.answered(await scene.slash(scene.ada, "image", prompt="a harbour"))
        [first] = made.followups
        varied = await scene.answered(await scene.click(scene.ada, first, "vary"))
        [second] = varied.followups
        refused = await scene.answered(await scene.click(scene.bob, second, "undo"))
        undone = await scene.answered(await scene.click(scene.ada, second, "undo"), followups=0)
        pieces = await scene.artifacts()

    assert "Undo" not in first.buttons.values()  # version 1: nothing before it
    assert list(second.buttons.values()) == ["Variation", "Undo", "Revise", "Keep"]
    [answer] = refused.callbacks
    assert answer.ephemeral and answer.content.startswith("Only the person who asked for #2")
    assert undone.deferred and undone.callbacks[0].ephemeral
    assert undone.edits[-1].content.startswith("Back to #1 (version 1)")
    assert len(pieces) == 2
