"""The Discord bot: a commands.Bot built with its dependencies, and how `atelier run` runs it.

The Agent and Settings are passed in (keyword-only), set-up that needs the event loop happens
in setup_hook, and each concern is a cog (chat.py first). Intents are guilds, messages and
message content; not members: with it discord.py asks for member chunks after each
GUILD_CREATE and waits for them, and the bot needs no member list. Message content is a
privileged intent: it must also be switched on in the Developer Portal (README).
"""

from __future__ import annotations

import logging

import discord
from discord.ext import commands

from agent.config import Settings, StartupError
from agent.service import Agent
from bot.discord.chat import NO_MENTIONS, Chat
from bot.discord.endpoints import pointed_at

logger = logging.getLogger(__name__)

MIB = 1024 * 1024


def atelier_intents() -> discord.Intents:
    intents = discord.Intents.none()
    intents.guilds = True
    intents.messages = True  # in servers and in DMs
    intents.message_content = True
    return intents


class AtelierBot(commands.Bot):
    def __init__(
        self, *, agent: Agent, settings: Settings, guild_ready_timeout: float = 2.0
    ) -> None:
        # guild_ready_timeout: how long after the last GUILD_CREATE on_ready waits for more.
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=atelier_intents(),
            allowed_mentions=NO_MENTIONS,  # the default for anything sent without its own
            help_command=None,
            guild_ready_timeout=guild_ready_timeout,
        )
        self.agent = agent
        self.settings = settings

    async def setup_hook(self) -> None:
        limit = self.settings.discord_file_limit_mb * MIB
        await self.add_cog(Chat(self, self.agent, file_limit_bytes=limit))

    async def on_message(self, message: discord.Message, /) -> None:
        """No prefix commands: commands.Bot would parse every mention as one. Chat (a cog
        listener) answers messages; commands are slash commands."""

    async def start(self, token: str, *, reconnect: bool = True) -> None:
        # The endpoint settings apply while the bot runs and are put back when it stops
        # (endpoints.py explains why they are process-wide).
        settings = self.settings
        with pointed_at(settings.discord_api_base, settings.discord_gateway_url):
            await super().start(token, reconnect=reconnect)


async def run_bot(agent: Agent, settings: Settings, token: str) -> None:
    """Run the bot until it is closed or cancelled (Ctrl-C). Problems the operator must fix
    in the Developer Portal become StartupError with one line saying what to do."""
    bot = AtelierBot(agent=agent, settings=settings)
    try:
        async with bot:
            await bot.start(token)
    except discord.LoginFailure:
        raise StartupError(
            "Discord refused the bot token: copy it again from the Developer Portal "
            "(your application > Bot > Reset Token) into ATELIER_DISCORD_TOKEN"
        ) from None
    except discord.PrivilegedIntentsRequired:
        raise StartupError(
            "Discord refused the Message Content intent: switch on 'Message Content Intent' "
            "in the Developer Portal (your application > Bot > Privileged Gateway Intents)"
        ) from None
