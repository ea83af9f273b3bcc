"""/settings: atelier's policy for one server, for the people who manage it.

Each subcommand is the agent's Command("settings", {"action": ..., typed fields})
(agent/policy/commands.py); a channel and a member are sent as their ids. The group is for
servers only and registered with default_permissions manage_guild, so Discord offers it to
those with Manage Server alone; the agent checks again, from the permission bits Discord sends
with the interaction (interactions.py person_of), since a server can open a command to more
people. Every answer is the asker's alone, nothing counts toward the rate limit, and the
server's own rules never stop it: an admin can fix them from any channel.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Literal

import discord
from discord import app_commands

from agent.policy.commands import SETTINGS_COMMAND
from agent.types import Command
from bot.discord.interactions import InteractionTurns

logger = logging.getLogger(__name__)

Change = Literal["add", "remove", "clear"]
Words = app_commands.Range[str, 1, 1000]


class ServerSettings(app_commands.Group):
    def __init__(self, turns: InteractionTurns) -> None:
        super().__init__(
            name=SETTINGS_COMMAND,
            description="atelier's settings for this server (Manage Server)",
            guild_only=True,
            default_permissions=discord.Permissions(manage_guild=True),
        )
        self._turns = turns

    @app_commands.command(name="show", description="The settings here, and the last change")
    async def show(self, interaction: discord.Interaction) -> None:
        await self._run(interaction, "show")

    @app_commands.command(name="history", description="Recent changes: who, what, old and new")
    async def history(self, interaction: discord.Interaction) -> None:
        await self._run(interaction, "history")

    @app_commands.command(name="channels", description="The channels atelier answers in")
    @app_commands.describe(
        change="add or remove a channel; clear: every channel again",
        channel="the channel (for add and remove)",
    )
    async def channels(
        self,
        interaction: discord.Interaction,
        change: Change,
        channel: discord.TextChannel | None = None,
    ) -> None:
        chosen = {} if channel is None else {"channel": str(channel.id)}
        await self._run(interaction, "channels", change=change, **chosen)

    @app_commands.command(name="buttons", description="Who may press the buttons under a piece")
    @app_commands.describe(who="requester: who asked for it; default: as the operator set it")
    async def buttons(
        self,
        interaction: discord.Interaction,
        who: Literal["requester", "everyone", "default"],
    ) -> None:
        await self._run(interaction, "buttons", who=who)

    @app_commands.command(
        name="blocklist", description="Words refused here, on top of the operator's blocklist"
    )
    @app_commands.describe(
        change="add or remove words, or clear the list", words="comma-separated words"
    )
    async def blocklist(
        self, interaction: discord.Interaction, change: Change, words: Words | None = None
    ) -> None:
        given = {} if words is None else {"words": words}
        await self._run(interaction, "blocklist", change=change, **given)

    # Not a method named nsfw: app_commands.Group has an attribute of that name.
    @app_commands.command(
        name="nsfw", description="Unfiltered images in age-restricted channels (only there)"
    )
    @app_commands.describe(allow="allow them in age-restricted channels; elsewhere never")
    async def unfiltered(self, interaction: discord.Interaction, allow: bool) -> None:
        await self._run(interaction, "nsfw", allow=allow)

    @app_commands.command(name="block", description="atelier ignores this member in this server")
    @app_commands.describe(member="the member")
    async def block(self, interaction: discord.Interaction, member: discord.User) -> None:
        await self._run(interaction, "block", user=str(member.id))

    @app_commands.command(name="unblock", description="atelier answers this member again")
    @app_commands.describe(member="the member")
    async def unblock(self, interaction: discord.Interaction, member: discord.User) -> None:
        await self._run(interaction, "unblock", user=str(member.id))

    async def _run(self, interaction: discord.Interaction, action: str, **fields: Any) -> None:
        started = time.monotonic()
        await interaction.response.defer(thinking=True, ephemeral=True)
        command = Command(SETTINGS_COMMAND, {"action": action, **fields})
        turn = self._turns.turn_of(interaction, command)
        reply = await self._turns.respond(interaction, turn, what="settings")
        owner = interaction.user.id
        try:
            await self._turns.answer(interaction, reply, owner, private=True, started=started)
        except discord.HTTPException:
            # discord.py has already retried 429s and 5xx; the change, if any, is stored.
            logger.exception("answering /settings %s failed", action)
