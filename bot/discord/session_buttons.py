"""The buttons of a group session: Join and Leave under its pinned welcome, and a Vote button
per candidate of a round (a Reply's `ballot`).

A press is the same Command as the slash command: Join is /session join, Vote #N is /session
vote piece=N. The session is the one at the place pressed in (the thread), so a custom id
holds only the action and the piece: `atelier:session:join`, `atelier:vote:<#N>`. Like the
buttons under pieces (buttons.py), they are DynamicItems registered in setup_hook, answered
from their custom ids after a restart, with nothing kept in memory per message.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import discord

from agent.sessions.commands import SESSION_COMMAND
from agent.types import Command

JOIN, LEAVE = "join", "leave"
ENTRY_TEMPLATE = r"atelier:session:(?P<action>join|leave)"
VOTE_TEMPLATE = r"atelier:vote:(?P<piece>\d{1,19})"
ROWS, ROW_WIDTH = 5, 5  # Discord's limits for the buttons under one message

Button = discord.ui.Button[Any]


class SessionPresses(Protocol):
    async def pressed(self, interaction: discord.Interaction, command: Command) -> None: ...


class HasSessionPresses(Protocol):
    session_presses: SessionPresses


class EntryButton(discord.ui.DynamicItem[Button], template=ENTRY_TEMPLATE):  # type: ignore[misc]
    """Join or Leave the session in this thread."""

    def __init__(self, action: str) -> None:
        super().__init__(
            discord.ui.Button(
                label=action.title(),
                style=discord.ButtonStyle.success
                if action == JOIN
                else discord.ButtonStyle.secondary,
                custom_id=f"atelier:session:{action}",
            )
        )
        self.action = action

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: Button, match: Any
    ) -> EntryButton:
        return cls(match["action"])

    async def callback(self, interaction: discord.Interaction) -> None:  # type: ignore[override]
        client: HasSessionPresses = interaction.client  # type: ignore[assignment]
        command = Command(SESSION_COMMAND, {"action": self.action})
        await client.session_presses.pressed(interaction, command)


class VoteButton(discord.ui.DynamicItem[Button], template=VOTE_TEMPLATE):  # type: ignore[misc]
    """A vote for candidate #N of the round open in this thread."""

    def __init__(self, piece: int, row: int | None = None) -> None:
        super().__init__(
            discord.ui.Button(
                label=f"Vote #{piece}",
                style=discord.ButtonStyle.primary,
                custom_id=f"atelier:vote:{piece}",
                row=row,
            )
        )
        self.piece = piece

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: Button, match: Any
    ) -> VoteButton:
        return cls(int(match["piece"]))

    async def callback(self, interaction: discord.Interaction) -> None:  # type: ignore[override]
        client: HasSessionPresses = interaction.client  # type: ignore[assignment]
        command = Command(SESSION_COMMAND, {"action": "vote", "piece": self.piece})
        await client.session_presses.pressed(interaction, command)


def entry_buttons() -> list[EntryButton]:
    return [EntryButton(JOIN), EntryButton(LEAVE)]


def vote_buttons(ballot: Sequence[int], *, first_row: int) -> list[VoteButton]:
    """A Vote button per piece, in rows of their own from `first_row` on; those that do not
    fit under one message are left out (the reply's text names every candidate, and
    /session vote takes any of them)."""
    room = max(0, ROWS - first_row) * ROW_WIDTH
    return [
        VoteButton(piece, row=first_row + index // ROW_WIDTH)
        for index, piece in enumerate(ballot[:room])
    ]
