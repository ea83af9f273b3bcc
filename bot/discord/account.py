"""Slash commands about a person's own history and pieces: /help, /history, /forget, /show,
/versions, /diff, /keep, /export (a zip of their own messages and pieces, attached), /undo
(the previous version becomes the focus again: agent/undo.py) and /taste (what their kept
pieces and votes lend the tools, and clearing it per medium: agent/taste.py). Each is the
agent's command of the same name (agent/account.py unless named); the answers are ephemeral,
since they are about one person's conversation."""

from __future__ import annotations

from typing import Literal

import discord
from discord import app_commands
from discord.ext import commands

from agent.taste import TASTE_COMMAND
from agent.types import Command
from agent.undo import UNDO_COMMAND
from bot.discord.autocomplete import piece_choices
from bot.discord.interactions import InteractionTurns
from tools.contract import MAX_PIECE_NUMBER

Piece = app_commands.Range[int, 1, MAX_PIECE_NUMBER]
# /taste clear's choices: the words agent/taste.py reads as each medium (and all of them).
TasteMedium = Literal["poems", "pictures", "music", "all"]


class Account(commands.Cog):
    def __init__(self, turns: InteractionTurns) -> None:
        self._turns = turns

    async def _run(
        self, interaction: discord.Interaction, command: Command, *, counted: bool = True
    ) -> None:
        await self._turns.run(
            interaction, command, what=command.name, private=True, counted=counted
        )

    @app_commands.command(name="help", description="What atelier can do, and its commands")
    async def help(self, interaction: discord.Interaction) -> None:
        await self._run(interaction, Command("help"), counted=False)

    @app_commands.command(name="history", description="Your recent turns with atelier here")
    async def history(self, interaction: discord.Interaction) -> None:
        await self._run(interaction, Command("history"))

    @app_commands.command(
        name="forget", description="Delete your conversations with atelier and what was made"
    )
    @app_commands.describe(confirm="choose yes to delete; without it you see what would go")
    async def forget(
        self, interaction: discord.Interaction, confirm: Literal["yes"] | None = None
    ) -> None:
        await self._run(interaction, Command("forget", {"confirm": confirm} if confirm else {}))

    @app_commands.command(name="show", description="Show one of your pieces")
    @app_commands.describe(piece="the piece, as #N")
    @app_commands.autocomplete(piece=piece_choices)
    async def show(self, interaction: discord.Interaction, piece: Piece) -> None:
        await self._run(interaction, Command("show", {"piece": piece}))

    @app_commands.command(name="versions", description="The versions of one of your pieces")
    @app_commands.describe(piece="the piece, as #N")
    @app_commands.autocomplete(piece=piece_choices)
    async def versions(self, interaction: discord.Interaction, piece: Piece) -> None:
        await self._run(interaction, Command("versions", {"piece": piece}))

    @app_commands.command(name="diff", description="What changed between two versions")
    @app_commands.describe(before="the older version, as #N", after="the newer one")
    @app_commands.autocomplete(before=piece_choices, after=piece_choices)
    async def diff(self, interaction: discord.Interaction, before: Piece, after: Piece) -> None:
        await self._run(interaction, Command("diff", {"before": before, "after": after}))

    @app_commands.command(
        name="keep", description="Keep a piece as a favourite; your next requests lean toward it"
    )
    @app_commands.describe(piece="the piece, as #N")
    @app_commands.autocomplete(piece=piece_choices)
    async def keep(self, interaction: discord.Interaction, piece: Piece) -> None:
        await self._run(interaction, Command("keep", {"piece": piece}))

    @app_commands.command(name="export", description="A zip of your own messages and pieces")
    async def export(self, interaction: discord.Interaction) -> None:
        await self._run(interaction, Command("export", text="me"))

    @app_commands.command(
        name="undo", description="Go back to the previous version of a piece; nothing is deleted"
    )
    @app_commands.describe(piece="the version to step back from, as #N (default: the one in focus)")
    @app_commands.autocomplete(piece=piece_choices)
    async def undo(self, interaction: discord.Interaction, piece: Piece | None = None) -> None:
        await self._run(
            interaction, Command(UNDO_COMMAND, {} if piece is None else {"piece": piece})
        )

    @app_commands.command(
        name="taste", description="What atelier learned from the pieces you kept and voted for"
    )
    @app_commands.describe(
        clear="un-keep that medium's pieces, so they no longer lean your requests"
    )
    async def taste(
        self, interaction: discord.Interaction, clear: TasteMedium | None = None
    ) -> None:
        fields = {} if clear is None else {"action": "clear", "medium": clear}
        await self._run(interaction, Command(TASTE_COMMAND, fields))
