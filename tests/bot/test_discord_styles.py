"""/style on Discord: a group whose train takes the STYLE tool's own options (no `piece`),
whose list and delete are the agent's commands; each subcommand's Command, run by the real
agent, does what the person asked."""

from __future__ import annotations

from typing import Any

from discord import app_commands

from agent.types import Command, Turn, UserRef
from bot.discord.styles import style_group, style_tool
from tests.agent.styles.drawing_tools import PAINT, STYLE_TOOL
from tests.agent.styles.test_drawing import sketches, styles
from tests.support.studio_tools import SKETCH
from tests.support.workshop import PLACE, MakeWorkshop, Workshop


class Recorded:
    """Stands in for InteractionTurns: keeps each Command and how it is to be answered."""

    def __init__(self) -> None:
        self.sent: list[tuple[Command, dict[str, Any]]] = []

    async def run(self, interaction: object, command: Command, **how: Any) -> None:
        self.sent.append((command, how))


async def pressed(group: app_commands.Group, subcommand: str, **values: Any) -> None:
    command = group.get_command(subcommand)
    assert isinstance(command, app_commands.Command)
    await command.callback(None, **values)  # type: ignore[arg-type]


async def answered(studio: Workshop, command: Command) -> str:
    turn = Turn("test", UserRef("ada", "Ada"), PLACE, command=command)
    return (await studio.agent.respond(turn)).text or ""


def test_the_group_is_there_only_with_a_style_tool() -> None:
    assert style_tool([SKETCH, PAINT]) is None and style_tool([SKETCH, STYLE_TOOL]) is STYLE_TOOL
    group = style_group(Recorded(), STYLE_TOOL)  # type: ignore[arg-type]
    assert sorted(command.name for command in group.commands) == ["delete", "list", "train"]
    train = group.get_command("train")
    assert isinstance(train, app_commands.Command)
    assert [parameter.name for parameter in train.parameters] == ["name", "from_pieces"]


async def test_train_list_and_delete_through_the_agent(make_studio: MakeWorkshop) -> None:
    studio = make_studio([STYLE_TOOL, PAINT, SKETCH])
    numbers = await sketches(studio, 4)
    turns = Recorded()
    group = style_group(turns, STYLE_TOOL)  # type: ignore[arg-type]
    pictures = " ".join(f"#{n}" for n in numbers)
    await pressed(group, "train", name="ink", from_pieces=pictures)
    await pressed(group, "list")
    await pressed(group, "delete", name="ink")
    (train, trained_how), (listing, list_how), (delete, delete_how) = turns.sent
    assert train == Command("style", {"action": "train", "from_pieces": pictures}, "ink")
    assert trained_how == {"what": "style train"}  # public, counted: it makes a piece
    assert list_how["private"] and delete_how["private"]
    await answered(studio, train)
    [style] = await styles(studio)
    assert style.params == {"name": "ink", "sources": numbers}
    assert (await answered(studio, listing)).startswith(f"Your styles:\nink: #{style.id}")
    assert (await answered(studio, delete)).startswith("Deleted your style 'ink'")
    assert await styles(studio) == []
