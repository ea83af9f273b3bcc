"""The "Write a poem" button under a picture, through the fake Discord: there for a poem tool
that writes from a picture (Tool.from_picture), never under a poem; its press runs the poem
tool with those fields and the picture's number, as typed fields. Without such a tool there is
no button (tests/bot/test_discord_commands.py's stand-in poem tool has none)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from bot.discord.buttons import WRITE, actions_for
from tests.bot.test_discord_commands import (  # noqa: F401 - fixtures
    IMAGE,
    Stage,
    fake,
    stage,
)
from tools.contract import ArtifactDraft, ArtifactKind, Tool, ToolArgs, ToolContext
from tools.lineup import creative_tools
from tools.poem.tool import POEM_TOOL


class PoetArgs(ToolArgs):
    prompt: str = Field("", description="what the poem is about", max_length=1000)
    mode: Literal["new", "picture"] | None = Field(None, description="new, or from the picture")


def write(args: PoetArgs, context: ToolContext) -> ArtifactDraft:
    """A line about the piece in focus, made from it when asked to write from a picture."""
    focus = "nothing" if context.focus is None else f"#{context.focus.number}"
    return ArtifactDraft(
        ArtifactKind.POEM,
        text=f"a poem about {focus}",
        params={"mode": args.mode, "piece": args.piece},
        from_focus=args.mode == "picture",
    )


POET = Tool(
    "poem", "Write a poem.", ArtifactKind.POEM, PoetArgs, write, from_picture={"mode": "picture"}
)


async def test_write_a_poem_under_a_picture_runs_the_poem_tool_on_it(
    stage: Stage,  # noqa: F811 - the fixture
) -> None:
    async with stage([IMAGE, POET]) as scene:
        made = await scene.answered(await scene.slash(scene.ada, "image", prompt="a harbour"))
        await scene.answered(await scene.slash(scene.ada, "image", prompt="a quay"))
        [picture] = made.followups
        refused = await scene.answered(await scene.click(scene.bob, picture, "write"))
        pressed = await scene.answered(await scene.click(scene.ada, picture, "write"))
        [under_poem] = pressed.followups
        harbour, _, poem = await scene.artifacts()

    assert list(picture.buttons.values()) == ["Variation", "Revise", "Write a poem", "Keep"]
    assert refused.callbacks[0].ephemeral and not refused.followups
    # The press reached the tool as fields: the picture pressed under, not the latest piece.
    assert (poem.kind, poem.params) == ("poem", {"mode": "picture", "piece": harbour.id})
    assert (poem.text, poem.parent_id) == (f"a poem about #{harbour.id}", harbour.id)
    assert under_poem.content.startswith(f"a poem about #{harbour.id}")
    assert "Write a poem" not in under_poem.buttons.values()


def test_the_real_poem_tool_gives_pictures_the_button_and_not_poems() -> None:
    assert WRITE in actions_for("image", [IMAGE, POEM_TOOL])
    assert WRITE not in actions_for("poem", [IMAGE, POEM_TOOL])


def test_a_trained_style_gets_no_buttons_a_press_could_not_name() -> None:
    # The custom id names poem, image, music or critique only: a Keep under a style piece
    # would be a button that answers nothing.
    assert actions_for("style", creative_tools()) == []
