"""Slash commands that make things: one per registered tool (/poem, /image, /music, /critique).

The commands are built from the tools when the cog loads (options.py turns each tool's Args
into typed options), so a newly registered tool gets its command with no change here. A
command becomes the same explicit Command the console sends (`/poem form=haiku a heron`):
options as key=value, the tool's free-text option as the text, and the `piece` option as #N.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from agent.turns import Agent
from agent.types import Command
from bot.discord.autocomplete import piece_choices
from bot.discord.interactions import InteractionTurns
from bot.discord.options import SlashOption, describe, tool_options

Run = Callable[[discord.Interaction, dict[str, Any]], Awaitable[None]]


class Create(commands.Cog):
    def __init__(self, bot: commands.Bot, agent: Agent, turns: InteractionTurns) -> None:
        self._bot = bot
        self._agent = agent
        self._turns = turns
        self._added: list[app_commands.Command[Any, ..., Any]] = []

    async def cog_load(self) -> None:
        for tool in self._agent.tools:
            command = tool_command(
                tool.name, tool.description, tool_options(tool), self._runner(tool.name)
            )
            self._bot.tree.add_command(command, override=True)
            self._added.append(command)

    async def cog_unload(self) -> None:
        for command in self._added:
            self._bot.tree.remove_command(command.name)

    def _runner(self, name: str) -> Run:
        text_arg = next(t.text_arg for t in self._agent.tools if t.name == name)

        async def run(interaction: discord.Interaction, values: dict[str, Any]) -> None:
            command = tool_command_from(name, text_arg, values)
            await self._turns.run(interaction, command, what=name)

        return run


def tool_command_from(name: str, text_arg: str | None, values: dict[str, Any]) -> Command:
    """The Command for /name with these option values (None: left out), as typed fields; the
    tool's text option is the command's free text, the only part read as words."""
    text = "" if text_arg is None else str(values.pop(text_arg, None) or "")
    return Command(name, {key: v for key, v in values.items() if v is not None}, text)


def tool_command(
    name: str, description: str, options: Sequence[SlashOption], run: Run
) -> app_commands.Command[Any, ..., Any]:
    """An app command with these options whose callback hands their values to `run`.

    discord.py reads a command's options from its callback's signature, so the callback
    gets a signature made from `options` (`__signature__`, which inspect.signature honours)
    and their descriptions, choices and autocomplete through the attributes its decorators
    would set."""

    async def callback(interaction: discord.Interaction, **values: Any) -> None:
        await run(interaction, values)

    parameters = [
        inspect.Parameter(
            "interaction", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=discord.Interaction
        )
    ]
    for option in options:
        parameters.append(
            inspect.Parameter(
                option.name,
                inspect.Parameter.KEYWORD_ONLY,
                annotation=option.annotation,
                default=inspect.Parameter.empty if option.required else None,
            )
        )
    callback.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    callback.__discord_app_commands_param_description__ = {  # type: ignore[attr-defined]
        option.name: option.description for option in options
    }
    choices = {option.name: list(option.choices) for option in options if option.choices}
    callback.__discord_app_commands_param_choices__ = choices  # type: ignore[attr-defined]
    autocomplete = {option.name: piece_choices for option in options if option.autocomplete}
    callback.__discord_app_commands_param_autocomplete__ = autocomplete  # type: ignore[attr-defined]
    return app_commands.Command(
        name=name, description=describe(description, name), callback=callback
    )
