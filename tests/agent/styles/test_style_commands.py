"""/style list and /style delete, answered with no tool; /forget takes a style's weights too."""

from __future__ import annotations

from agent.types import Command
from bot.console import parse_command
from tests.agent.styles.drawing_tools import PAINT, STYLE_TOOL
from tests.agent.styles.test_drawing import pieces, sketches, styles
from tests.support.studio_tools import SKETCH
from tests.support.workshop import MakeWorkshop, Workshop

TOOLS = [STYLE_TOOL, PAINT, SKETCH]


async def trained(studio: Workshop, name: str, user: str = "ada") -> int:
    numbers = await sketches(studio, 4, user=user)
    reply = await studio.command(
        f"/style train name={name} from_pieces={pieces(numbers)}", user=user
    )
    return reply.artifacts[0].number


def test_the_console_reads_a_style_action_and_its_options() -> None:
    assert parse_command("/style train name=ink from_pieces=#1,#2") == Command(
        "style", {"action": "train", "name": "ink", "from_pieces": "#1,#2"}
    )
    assert parse_command("/style delete ink") == Command("style", {"action": "delete"}, "ink")
    # Without an action's word it is the STYLE tool's own command.
    assert parse_command("/style name=ink") == Command("style", {"name": "ink"})


async def test_list_shows_the_persons_styles_only(make_studio: MakeWorkshop) -> None:
    studio = make_studio(TOOLS)
    ink = await trained(studio, "ink")
    wash = await trained(studio, "wash")
    await trained(studio, "oil", user="bob")
    reply = await studio.command("/style list")
    lines = (reply.text or "").splitlines()
    assert lines[0] == "Your styles:" and len(lines) == 3
    assert lines[1].startswith(f"ink: #{ink}, made ") and lines[1].endswith("on 4 pictures")
    assert lines[2].startswith(f"wash: #{wash}, made ")
    assert reply.private and not reply.stored
    empty = await studio.command("/style list", user="cy")
    assert empty.text == "You have no trained styles yet: train one with /style train."


async def test_delete_removes_the_style_and_its_weights_not_what_it_made(
    make_studio: MakeWorkshop,
) -> None:
    studio = make_studio(TOOLS)
    ink = await trained(studio, "ink")
    [style] = await styles(studio)
    weights = studio.media.path(style.files[0].path)
    painted = await studio.command("/paint style_name=ink a heron")
    reply = await studio.command("/style delete ink")
    assert (
        reply.text
        == f"Deleted your style 'ink' (#{ink}) and its weights; pictures made with it stay."
    )
    assert await styles(studio) == [] and not weights.exists()
    numbers = [piece.id for piece in await studio.artifacts()]
    assert painted.artifacts[0].number in numbers and painted.artifacts[0].media_path.exists()
    again = await studio.command("/paint style_name=ink a heron")
    assert again.text == (
        "You have no style named 'ink'. "
        "You have no trained styles yet: train one with /style train."
    )


async def test_delete_of_a_name_the_person_lacks_lists_theirs(make_studio: MakeWorkshop) -> None:
    studio = make_studio(TOOLS)
    ink = await trained(studio, "ink")
    await trained(studio, "oil", user="bob")
    reply = await studio.command("/style delete oil")
    assert reply.text == f"You have no style named 'oil'. Your styles: ink (#{ink})."
    assert len(await styles(studio)) == 2
    assert (await studio.command("/style delete")).text == (
        "Which style? For example `/style delete watercolor`."
    )


async def test_forget_removes_a_styles_weights(make_studio: MakeWorkshop) -> None:
    studio = make_studio(TOOLS)
    await trained(studio, "ink")
    [style] = await styles(studio)
    weights = studio.media.path(style.files[0].path)
    assert weights.exists()
    await studio.command("/forget yes")
    assert await styles(studio) == [] and not weights.exists()
    assert studio.media_files() == []


async def test_train_without_a_style_tool_is_one_line(make_studio: MakeWorkshop) -> None:
    studio = make_studio([SKETCH])
    reply = await studio.command("/style train name=ink from_pieces=#1,#2,#3,#4")
    assert reply.text == "Training a style is not available on this atelier. Nothing was stored."
    assert (await studio.command("/style list")).text.startswith("You have no trained styles")


async def test_pieces_that_are_not_numbers_are_the_args_line(make_studio: MakeWorkshop) -> None:
    """Never read as "no pieces named" (which would train on the kept pictures)."""
    studio = make_studio(TOOLS)
    for number in await sketches(studio, 4):
        await studio.command(f"/keep #{number}")
    reply = await studio.command("/style train name=ink from_pieces=#1,#2,three")
    assert (reply.text or "").startswith("/style: from_pieces='#1,#2,three': ")
    assert await styles(studio) == []
