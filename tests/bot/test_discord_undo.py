"""The Undo button under a piece with a previous version, and /undo, through the fake Discord:
the owner's press or command makes the previous version the focus again (privately), which
/versions marks; others' presses are refused; nothing is deleted."""

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


async def test_slash_undo_after_a_revision_goes_back_and_versions_marks_it(
    stage: Stage,  # noqa: F811 - the fixture
) -> None:
    async with stage() as scene:
        await scene.answered(await scene.slash(scene.ada, "image", prompt="a harbour"))
        revised = await scene.slash(scene.ada, "image", prompt="at night", revise=True, piece=1)
        await scene.answered(revised)
        undone = await scene.answered(await scene.slash(scene.ada, "undo"), followups=0)
        versions = await scene.answered(
            await scene.slash(scene.ada, "versions", piece=1), followups=0
        )
        again = await scene.answered(await scene.slash(scene.ada, "undo", piece=1), followups=0)
        pieces = await scene.artifacts()

    assert [(piece.id, piece.version) for piece in pieces] == [(1, 1), (2, 2)]  # none deleted
    for log in (undone, versions, again):
        assert log.deferred and log.callbacks[0].ephemeral
    assert undone.edits[-1].content.startswith("Back to #1 (version 1)")
    tree = versions.edits[-1].content.splitlines()
    assert tree[1].startswith("#1 image") and tree[1].endswith("← you are here")
    assert "you are here" not in tree[2]
    assert again.edits[-1].content.startswith("#1 is the first version of its piece")
