"""Autocomplete of a person's piece numbers (#N) for any option that names a piece."""

from __future__ import annotations

import logging
from typing import Protocol

import discord
from discord import app_commands
from sqlalchemy.exc import SQLAlchemyError

from agent.turns import Agent
from bot.discord.chat import PLATFORM

logger = logging.getLogger(__name__)

SHOWN = 25  # Discord shows at most 25 suggestions
LOOKED_AT = 200
NAME_LIMIT = 100


class HasAgent(Protocol):
    agent: Agent


async def piece_choices(
    interaction: discord.Interaction, current: str
) -> list[app_commands.Choice[int]]:
    """The person's newest pieces whose number starts with what they typed (a leading #
    is fine), newest first, as `#12 poem: a heron in the rain`."""
    client: HasAgent = interaction.client  # type: ignore[assignment]
    typed = str(current or "").strip().lstrip("#")
    try:
        pieces = await client.agent.recent_pieces(PLATFORM, str(interaction.user.id), LOOKED_AT)
    except SQLAlchemyError:  # suggestions are a courtesy; the command itself still works
        logger.exception("listing pieces for autocomplete failed")
        return []
    matching = [p for p in pieces if str(p.number).startswith(typed)][:SHOWN]
    return [
        app_commands.Choice(name=_clip(f"#{p.number} {p.kind}: {p.prompt}"), value=p.number)
        for p in matching
    ]


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= NAME_LIMIT else text[: NAME_LIMIT - 1] + "…"
