"""The Discord bot: a commands.Bot built with its dependencies, and how `atelier run` runs it.

The Agent and Settings are passed in (keyword-only), set-up that needs the event loop happens
in setup_hook, and each concern is a cog: chat.py (mentions, DMs, replies, session threads),
create.py (a slash command per tool), account.py (/history, /forget, /help ...), sessions.py
(/session), settings.py (/settings, a group added to the tree); buttons under pieces and a
session's buttons are persistent (buttons.py, actions.py, session_buttons.py) and slash
commands are registered at each start. The agent
speaks unprompted in session threads through posting.py, registered as it starts. Intents
are guilds, messages and message content; not members: with it discord.py asks for member
chunks after each GUILD_CREATE and waits for them, and the bot needs no member list. Message
content is a privileged intent: it must also be switched on in the Developer Portal (README).
With a shard count set, the same bot is an AutoShardedBot running this process's shards
(sharding.py).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import Any

import aiohttp
import discord
from discord import app_commands
from discord.ext import commands

from agent.apology import apology
from agent.config import Settings, StartupError
from agent.turns import Agent
from bot.discord.account import Account
from bot.discord.actions import ButtonActions
from bot.discord.buttons import CancelButton, PieceActions, PieceButton
from bot.discord.chat import NO_MENTIONS, PLATFORM, Chat
from bot.discord.create import Create
from bot.discord.endpoints import pointed_at
from bot.discord.interactions import InteractionTurns
from bot.discord.limits import RateLimiter
from bot.discord.posting import PlacePoster
from bot.discord.reaching import Patience
from bot.discord.session_buttons import EntryButton, SessionPresses, VoteButton
from bot.discord.session_turns import SessionTurns
from bot.discord.sessions import Sessions
from bot.discord.settings import ServerSettings
from bot.discord.sharding import Shards, shards_of
from bot.discord.styles import Styles
from tools.units import MIB

logger = logging.getLogger(__name__)


class AtelierTree(app_commands.CommandTree):
    """Slash command failures discord.py catches become one line for the person, with a
    reference the log keeps (the default only logs, and Discord says "did not respond")."""

    async def on_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError, /
    ) -> None:
        if isinstance(error, app_commands.CommandNotFound):
            text = "That command is not available any more; type / to see the current ones."
        else:
            name = interaction.command.name if interaction.command else "?"
            text = apology(logger, what_failed=f"/{name} failed", error=error).text
        try:
            if interaction.response.is_done():
                await interaction.followup.send(text, ephemeral=True, allowed_mentions=NO_MENTIONS)
            else:
                await interaction.response.send_message(
                    text, ephemeral=True, allowed_mentions=NO_MENTIONS
                )
        except discord.HTTPException as exc:  # e.g. the interaction expired meanwhile
            logger.debug("could not tell the person about the failure: %s", exc)


def atelier_intents() -> discord.Intents:
    intents = discord.Intents.none()
    intents.guilds = True
    intents.messages = True  # in servers and in DMs
    intents.message_content = True
    return intents


class AtelierBot(commands.Bot):
    def __init__(
        self,
        *,
        agent: Agent,
        settings: Settings,
        guild_ready_timeout: float = 2.0,
        **client_options: Any,  # a sharded bot's shard_count and shard_ids
    ) -> None:
        # guild_ready_timeout: how long after the last GUILD_CREATE on_ready waits for more.
        # atelier has no voice: discord.py's warnings that voice needs PyNaCl and davey would
        # be two lines at every start that the operator can do nothing about.
        discord.VoiceClient.warn_nacl = discord.VoiceClient.warn_dave = False
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=atelier_intents(),
            allowed_mentions=NO_MENTIONS,  # the default for anything sent without its own
            help_command=None,
            tree_cls=AtelierTree,
            guild_ready_timeout=guild_ready_timeout,
            **client_options,
        )
        self.agent = agent
        self.settings = settings
        self.own_shards = shards_of(settings)  # None: unsharded
        # Set in setup_hook: what the buttons call, and how the agent posts unprompted.
        self.piece_actions: PieceActions
        self.session_presses: SessionPresses
        self.poster: PlacePoster

    async def setup_hook(self) -> None:
        settings = self.settings
        limit = settings.discord_file_limit_mb * MIB
        limiter = RateLimiter(settings.discord_rate_per_minute)
        turns = InteractionTurns(self.agent, settings, limiter)
        self.piece_actions = ButtonActions(
            self, turns, self.agent.tools, everyone=settings.discord_buttons_for_everyone
        )
        self.poster = PlacePoster(self, self.agent, file_limit_bytes=limit)
        sessions = SessionTurns(self.agent, turns, self.poster)
        self.session_presses = sessions
        # Buttons sent before a restart are answered from their custom ids.
        self.add_dynamic_items(PieceButton, CancelButton, EntryButton, VoteButton)
        await self.add_cog(Chat(self, self.agent, file_limit_bytes=limit, limiter=limiter))
        await self.add_cog(Create(self, self.agent, turns))
        await self.add_cog(Styles(self, turns, self.agent.tools))  # after Create: /style's group
        await self.add_cog(Account(turns))
        await self.add_cog(Sessions(self, sessions))
        self.tree.add_command(ServerSettings(turns), override=True)  # /settings, for admins
        # Re-arms the sessions' deadlines: one that passed while the bot was down is
        # announced at once, fetching its thread if the cache does not have it yet.
        self.agent.announce_with(PLATFORM, self.poster.announce)
        if self.own_shards is None or self.own_shards.registers_commands:
            await self._sync_commands()

    async def _sync_commands(self) -> None:
        """Registers the slash commands with Discord (a bulk overwrite: commands that are
        gone disappear). A failure leaves the ones registered before and is logged."""
        try:
            synced = await self.tree.sync()
        except (discord.HTTPException, aiohttp.ClientError, OSError):
            logger.exception("registering slash commands failed; the previous ones stay")
            return
        logger.info("slash commands: %s", ", ".join(sorted(c.name for c in synced)))

    async def on_message(self, message: discord.Message, /) -> None:
        """No prefix commands: commands.Bot would parse every mention as one. Chat (a cog
        listener) answers messages; commands are slash commands."""

    async def start(self, token: str, *, reconnect: bool = True) -> None:
        # The endpoint settings apply while the bot runs and are put back when it stops
        # (endpoints.py explains why they are process-wide).
        settings = self.settings
        with pointed_at(settings.discord_api_base, settings.discord_gateway_url):
            await super().start(token, reconnect=reconnect)


class ShardedAtelierBot(AtelierBot, commands.AutoShardedBot):
    """The same bot as discord.py's AutoShardedBot: each of this process's shards is a
    gateway connection of its own, identifying as [id, count]."""

    def __init__(
        self, *, agent: Agent, settings: Settings, shards: Shards, guild_ready_timeout: float = 2.0
    ) -> None:
        super().__init__(
            agent=agent,
            settings=settings,
            guild_ready_timeout=guild_ready_timeout,
            **shards.client_options(),
        )


def atelier_bot(
    *, agent: Agent, settings: Settings, guild_ready_timeout: float = 2.0
) -> AtelierBot:
    """The bot the settings ask for: sharded when a shard count is set."""
    shards = shards_of(settings)
    if shards is None:
        return AtelierBot(agent=agent, settings=settings, guild_ready_timeout=guild_ready_timeout)
    return ShardedAtelierBot(
        agent=agent, settings=settings, shards=shards, guild_ready_timeout=guild_ready_timeout
    )


async def run_bot(
    agent: Agent, settings: Settings, token: str, *, say: Callable[[str], None] | None = None
) -> None:
    """Run the bot until it is closed or cancelled (Ctrl-C). An unreachable Discord is tried
    again (bot/discord/reaching.py), each try a line given to `say` (default: stderr);
    problems the operator must fix in the Developer Portal become StartupError with one line
    saying what to do."""
    patience = Patience(settings.discord_connect_attempts, settings.discord_connect_delay_s)
    shards = shards_of(settings)
    if shards is not None:
        (say or _on_stderr)(f"this process runs {shards.describe()}")
    try:
        await patience.keep_trying(lambda: _run_once(agent, settings, token), say or _on_stderr)
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
    except discord.HTTPException as exc:  # another refusal of the login (a 4xx)
        raise StartupError(
            f"Discord refused the login (HTTP {exc.status}: {exc.text[:100]}); check the "
            "bot token and ATELIER_DISCORD_API_BASE"
        ) from None


async def _run_once(agent: Agent, settings: Settings, token: str) -> None:
    # A fresh client per try: a failed login leaves discord.py's HTTP session half made.
    bot = atelier_bot(agent=agent, settings=settings)
    async with bot:
        await bot.start(token)


def _on_stderr(line: str) -> None:
    print(f"atelier: {line}", file=sys.stderr)
