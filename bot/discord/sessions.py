"""/session: group sessions as one slash command group, a subcommand per action.

Each subcommand is the agent's Command("session", {"action": ..., options}, text), as the
console sends `/session start mode=relay a night market` (agent/sessions/commands.py): typed
options as fields, and one option, where the action reads words, as the free text (the theme
of start, the prompt of a round, on/off for taste, a style, a relay line). kick and host take
a Discord member, sent as their id, which the agent matches like a display name. start and
round take their options from the agent's own models (StartArgs, RoundArgs: bounds and
choices stay as the agent checks them), the form as the poem tool's choices. The group is for
servers only: a session lives in a thread. How each is answered is session_turns.py.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any, Literal

import discord
from discord import app_commands
from discord.ext import commands
from pydantic import BaseModel

from agent.sessions.commands import SESSION_COMMAND, StartArgs
from agent.sessions.hosting import STYLE_CHARS
from agent.sessions.rounds import MAX_BOT_CANDIDATES, RoundArgs
from agent.types import Command
from bot.discord.create import tool_command
from bot.discord.options import SlashOption, field_option
from bot.discord.session_turns import SessionTurns
from tools.contract import MAX_PIECE_NUMBER
from tools.poem.forms import FORM_CHOICES

GROUP = SESSION_COMMAND
LINE_CHARS = 1000  # a relay line; the agent bounds what it takes itself
Run = Callable[[discord.Interaction, dict[str, Any]], Awaitable[None]]


@dataclass(frozen=True)
class SessionAction:
    name: str
    description: str
    options: tuple[SlashOption, ...] = ()
    text: str | None = None  # the option sent as the Command's free text
    counted: bool = False  # it makes something: it counts toward the rate limit


def model_options(model: type[BaseModel], **choices: list[list[str]]) -> tuple[SlashOption, ...]:
    """The options of `model`'s fields, required first (Discord's rule); `choices` gives a
    field its [shown, value] pairs."""
    options = [field_option(name, info) for name, info in model.model_fields.items()]
    options = [
        replace(option, annotation=str, choices=_choices(choices[option.name]))
        if option.name in choices
        else option
        for option in options
    ]
    return tuple(sorted(options, key=lambda option: not option.required))


def _choices(pairs: list[list[str]]) -> tuple[app_commands.Choice[str], ...]:
    return tuple(app_commands.Choice(name=shown, value=value) for shown, value in pairs)


def _option(name: str, annotation: Any, description: str, *, required: bool) -> SlashOption:
    return SlashOption(name, annotation, description, required=required)


MEMBER = _option("member", discord.User, "the member", required=True)
ACTIONS: tuple[SessionAction, ...] = (
    SessionAction(
        "start",
        "Start a group session on a theme (in a channel, it opens a thread for it)",
        model_options(StartArgs, form=FORM_CHOICES),
        text="theme",
        counted=True,
    ),
    SessionAction("join", "Take part in the session here"),
    SessionAction("leave", "Leave the session here"),
    SessionAction("status", "The session here: its mode, its members, whose turn it is"),
    SessionAction("canvas", "The session's pieces so far"),
    SessionAction(
        "taste",
        "Whether your kept pieces shape what you ask for in this session",
        (
            _option(
                "taste", Literal["on", "off"], "on or off (left out: which it is)", required=False
            ),
        ),
        text="taste",
    ),
    SessionAction(
        "line",
        "Relay: send your line (in a hidden relay, only you see it)",
        (_option("line", app_commands.Range[str, 1, LINE_CHARS], "your line", required=True),),
        text="line",
    ),
    SessionAction("pass", "Relay: pass your turn to the next member"),
    SessionAction(
        "vote",
        "Vote for a candidate of the open round",
        (
            _option(
                "piece",
                app_commands.Range[int, 1, MAX_PIECE_NUMBER],
                "the candidate, as #N",
                required=True,
            ),
        ),
    ),
    SessionAction(
        "candidates",
        "Have the bot propose candidates for the open round",
        (
            _option(
                "count", app_commands.Range[int, 1, MAX_BOT_CANDIDATES], "how many", required=False
            ),
        ),
        counted=True,
    ),
    SessionAction(
        "export",
        "The session so far as a zip: every piece, who made what, a page to open offline",
        counted=True,
    ),
    SessionAction(
        "end",
        "End the session (host): the finale, the credits and the export",
        (
            _option(
                "closing",
                Literal["music", "picture"],
                "first, a closing piece made from the final poem",
                required=False,
            ),
        ),
        counted=True,
    ),
    SessionAction("pause", "Pause the session: nothing is made until it resumes (host)"),
    SessionAction("resume", "Resume the paused session (host)"),
    SessionAction("lock", "Lock the session: members carry on, nobody new may join (host)"),
    SessionAction("kick", "Remove a member from the session (host)", (MEMBER,), text="member"),
    SessionAction("host", "Hand the session over to a member (host)", (MEMBER,), text="member"),
    SessionAction(
        "style",
        "The style every new piece is made in; left out, there is none (host)",
        (_option("style", app_commands.Range[str, 1, STYLE_CHARS], "the style", required=False),),
        text="style",
    ),
    SessionAction("skip", "Relay: skip the member whose turn it is (host)"),
    SessionAction(
        "round",
        "Open a round: members propose, then vote (host)",
        model_options(RoundArgs),
        text="prompt",
    ),
    SessionAction("close", "Close the open round and count the votes (host)"),
)


def session_command(action: SessionAction, values: dict[str, Any]) -> Command:
    """The agent's Command for `/session <action>` with these option values (None: left
    out); a member is sent as their Discord id."""
    said = values.pop(action.text, None) if action.text else None
    if isinstance(said, discord.abc.User):
        said = str(said.id)
    fields = {key: value for key, value in values.items() if value is not None}
    return Command(
        SESSION_COMMAND, {"action": action.name, **fields}, "" if said is None else str(said)
    )


def session_group(turns: SessionTurns) -> app_commands.Group:
    group = app_commands.Group(
        name=GROUP, description="Group sessions: make things together in a thread", guild_only=True
    )
    for action in ACTIONS:
        group.add_command(
            tool_command(action.name, action.description, action.options, _runner(action, turns))
        )
    return group


def _runner(action: SessionAction, turns: SessionTurns) -> Run:
    async def run(interaction: discord.Interaction, values: dict[str, Any]) -> None:
        command = session_command(action, values)
        if action.name == "start":
            await turns.start(interaction, command)
            return
        await turns.run(interaction, command, what=f"session {action.name}", counted=action.counted)

    return run


class Sessions(commands.Cog):
    def __init__(self, bot: commands.Bot, turns: SessionTurns) -> None:
        self._bot = bot
        self._turns = turns

    async def cog_load(self) -> None:
        self._bot.tree.add_command(session_group(self._turns), override=True)

    async def cog_unload(self) -> None:
        self._bot.tree.remove_command(GROUP)
