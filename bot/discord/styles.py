"""/style: a person's own trained styles, as one slash command group.

    train    the STYLE tool's own command (its options from its Args, as /image's are; the
             pictures as text, "#3 #7 #9 #11"): a background job with progress and Cancel
    list     the person's styles (agent/styles/commands.py), privately
    delete   one of them by name, privately

Registered after the tools' commands (create.py), so it takes the place of the plain
command create.py builds for the STYLE tool; with no STYLE tool registered there is no /style.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from agent.styles.commands import DELETE, LIST, STYLE_COMMAND, TRAIN
from agent.types import Command
from bot.discord.create import tool_command, tool_command_from
from bot.discord.interactions import InteractionTurns
from bot.discord.options import PIECE, SlashOption, tool_options
from tools.contract import ArtifactKind, Tool

NAME_CHARS = 100
Run = Callable[[discord.Interaction, dict[str, Any]], Awaitable[None]]
NAME = SlashOption(
    "name", app_commands.Range[str, 1, NAME_CHARS], "the style's name", required=True
)


def style_tool(tools: Sequence[Tool]) -> Tool | None:
    """The tool that trains styles: the one making STYLE pieces, if any is registered."""
    return next((tool for tool in tools if tool.kind is ArtifactKind.STYLE), None)


def train_options(tool: Tool) -> list[SlashOption]:
    """The STYLE tool's options, without `piece`: a style is made from its pictures."""
    return [option for option in tool_options(tool) if option.name != PIECE]


def style_group(turns: InteractionTurns, tool: Tool) -> app_commands.Group:
    group = app_commands.Group(name=STYLE_COMMAND, description="Your own trained styles")
    group.add_command(
        tool_command("train", tool.description, train_options(tool), _train(turns, tool))
    )
    group.add_command(
        tool_command("list", "Your styles: name, #N, when, on how many pictures", (), _list(turns))
    )
    group.add_command(
        tool_command(
            "delete",
            "Delete one of your styles (what you made with it stays)",
            (NAME,),
            _delete(turns),
        )
    )
    return group


def _train(turns: InteractionTurns, tool: Tool) -> Run:
    async def run(interaction: discord.Interaction, values: dict[str, Any]) -> None:
        command = tool_command_from(tool.name, tool.text_arg, values)
        if tool.name == STYLE_COMMAND:  # said outright, so a style named "list" is trained
            command = Command(command.name, {"action": TRAIN, **command.args}, command.text)
        await turns.run(interaction, command, what="style train")

    return run


def _list(turns: InteractionTurns) -> Run:
    async def run(interaction: discord.Interaction, values: dict[str, Any]) -> None:
        command = Command(STYLE_COMMAND, {"action": LIST})
        await turns.run(interaction, command, what="style list", private=True, counted=False)

    return run


def _delete(turns: InteractionTurns) -> Run:
    async def run(interaction: discord.Interaction, values: dict[str, Any]) -> None:
        command = Command(STYLE_COMMAND, {"action": DELETE, "name": values["name"]})
        await turns.run(interaction, command, what="style delete", private=True)

    return run


class Styles(commands.Cog):
    def __init__(self, bot: commands.Bot, turns: InteractionTurns, tools: Sequence[Tool]) -> None:
        self._bot = bot
        self._turns = turns
        self._tool = style_tool(tools)

    async def cog_load(self) -> None:
        if self._tool is not None:
            self._bot.tree.add_command(style_group(self._turns, self._tool), override=True)

    async def cog_unload(self) -> None:
        if self._tool is not None:
            self._bot.tree.remove_command(STYLE_COMMAND)
