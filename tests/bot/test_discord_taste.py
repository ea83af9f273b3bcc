"""/taste through the fake Discord: what a person's kept pictures lend the image tool, shown
to them alone, and `clear pictures` un-keeping them (the pieces stay)."""

from __future__ import annotations

from tests.bot.test_discord_commands import Stage, fake, stage  # noqa: F401, F811 - fixtures


async def test_taste_shows_the_kept_pictures_defaults_and_clearing_unkeeps_them(
    stage: Stage,  # noqa: F811 - the fixture
) -> None:
    async with stage() as scene:
        for prompt in ("a harbour", "a quay"):
            await scene.answered(await scene.slash(scene.ada, "image", prompt=prompt, aspect="3:2"))
        for number in (1, 2):
            await scene.answered(await scene.slash(scene.ada, "keep", piece=number), followups=0)
        shown = await scene.answered(await scene.slash(scene.ada, "taste"), followups=0)
        bobs = await scene.answered(await scene.slash(scene.bob, "taste"), followups=0)
        cleared = await scene.answered(
            await scene.slash(scene.ada, "taste", clear="pictures"), followups=0
        )
        after = await scene.answered(await scene.slash(scene.ada, "taste"), followups=0)
        pieces = await scene.artifacts()

    for log in (shown, bobs, cleared, after):
        assert log.deferred and log.callbacks[0].ephemeral
    lines = shown.edits[-1].content.splitlines()
    assert lines[2] == "pictures: 3:2 (from 2 kept pieces)"
    assert bobs.edits[-1].content.splitlines()[2].startswith("pictures: nothing yet")
    assert cleared.edits[-1].content == (
        "Cleared your taste in pictures: 2 kept piece(s) no longer lean your next requests "
        "(the pieces stay)."
    )
    assert after.edits[-1].content.splitlines()[2].startswith("pictures: nothing yet")
    assert [piece.kept_at for piece in pieces] == [None, None] and len(pieces) == 2
