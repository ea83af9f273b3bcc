"""One interaction (slash command, button, modal) -> one agent turn, answered as Discord asks.

Discord wants an interaction acknowledged within 3 s, so the turn is deferred first (a
"thinking..." message), before any database or model work. While a tool works, its progress
edits that message at most once a second (progress.py). The results come as follow-ups,
rendered like chat replies (render.py: 2,000-character parts, files within the size limit
the interaction reports, no mentions), with buttons under each piece (buttons.py); the
original message then says what was made. A text-only answer (/history, a refusal) takes
the place of the "thinking..." message instead. The token behind follow-ups lasts 15
minutes; an answer later than that is posted to the channel.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import discord

from agent.apology import apology
from agent.config import Settings
from agent.policy.rules import ServerRules
from agent.turns import Agent
from agent.types import Command, Place, Reply, Turn, UserRef
from bot.discord.buttons import cancel_view
from bot.discord.chat import NO_MENTIONS, PLATFORM, age_restricted, files_of, thread_place
from bot.discord.delivery import deliver, with_view
from bot.discord.limits import RateLimiter
from bot.discord.progress import ProgressMessage
from bot.discord.render import OutMessage, render_reply
from tools.units import MIB

logger = logging.getLogger(__name__)


TOKEN_LIFETIME_S = 14 * 60  # Discord's is 15 minutes; a minute to spare


class InteractionTurns:
    def __init__(self, agent: Agent, settings: Settings, limiter: RateLimiter) -> None:
        self._agent = agent
        self._settings = settings
        self._limiter = limiter

    async def refuse(self, interaction: discord.Interaction, text: str) -> None:
        """An answer only the person sees, given at once (it is the acknowledgement)."""
        await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_MENTIONS)

    async def run(
        self,
        interaction: discord.Interaction,
        command: Command,
        *,
        what: str,
        private: bool = False,
        as_user: UserRef | None = None,
        counted: bool = True,
    ) -> None:
        """Run `command` as a turn of the person who interacted (or `as_user`) and answer.
        `private` answers are ephemeral; `counted` turns count toward the rate limit."""
        if not await self.admit(interaction, counted=counted):
            return
        started = time.monotonic()
        await interaction.response.defer(thinking=True, ephemeral=private)
        turn = self.turn_of(interaction, command, as_user=as_user)
        reply = await self.respond(interaction, turn, what=what)
        owner = int(turn.user.external_id)
        try:
            await self.answer(interaction, reply, owner, private=private, started=started)
        except discord.HTTPException:
            # discord.py has already retried 429s and 5xx; the answer is lost, not the history.
            logger.exception("answering /%s failed", command.name)

    async def admit(self, interaction: discord.Interaction, *, counted: bool) -> bool:
        """False, with the person told why, when the server's /settings leave this channel out
        or ignore them, or when they are over the rate limit (told when to come back)."""
        place, person = interaction_place(interaction), str(interaction.user.id)
        refused = await self._agent.policy.refusal(PLATFORM, place, person)
        if refused is not None:
            await self.refuse(interaction, refused)
            return False
        if counted and (wait := self._limiter.wait_s(str(interaction.user.id))) is not None:
            await self.refuse(interaction, self._limiter.refusal(wait))
            return False
        return True

    def turn_of(
        self,
        interaction: discord.Interaction,
        command: Command,
        *,
        as_user: UserRef | None = None,
        place: Place | None = None,
    ) -> Turn:
        """The turn of the person who interacted (or `as_user`) where they did (or `place`)."""
        return Turn(
            platform=PLATFORM,
            user=as_user or person_of(interaction),
            place=place or interaction_place(interaction),
            command=command,
        )

    async def server_rules(self, interaction: discord.Interaction) -> ServerRules:
        """The /settings of the server the interaction is in (none in a DM)."""
        guild = None if interaction.guild_id is None else str(interaction.guild_id)
        return await self._agent.policy.of(PLATFORM, guild)

    async def respond(self, interaction: discord.Interaction, turn: Turn, *, what: str) -> Reply:
        """The agent's Reply to `turn` (of a deferred interaction), its progress shown on the
        "thinking..." message; a failure is the one-line apology."""
        progress = ProgressMessage(what, _editor(interaction), cancel=cancel_view)
        try:
            return await self._agent.respond(replace(turn, progress=progress))
        except Exception:  # noqa: BLE001 - the person gets a reference; the log keeps the rest
            name = turn.command.name if turn.command else "?"
            return apology(logger, what_failed=f"/{name} failed")
        finally:
            await progress.close()

    async def answer(
        self,
        interaction: discord.Interaction,
        reply: Reply,
        owner: int,
        *,
        private: bool,
        started: float,
    ) -> None:
        """Answer a deferred interaction with `reply`: a text alone takes the place of the
        "thinking..." message; pieces come as follow-ups (ephemeral when `private`, which
        must match the defer: Discord keeps the first answer's visibility)."""
        limit = min(self._settings.discord_file_limit_mb * MIB, interaction.filesize_limit)
        messages = render_reply(reply, file_limit_bytes=limit)
        late = time.monotonic() - started > TOKEN_LIFETIME_S
        if late:
            await self._to_channel(interaction, messages, reply, owner)
            return
        if not reply.artifacts and messages and not messages[0].files:
            await interaction.edit_original_response(
                content=messages[0].content, allowed_mentions=NO_MENTIONS, view=None
            )
            messages = messages[1:]
        else:  # view=None: the Cancel button goes with the progress line
            await interaction.edit_original_response(
                content=_done_line(reply, started), allowed_mentions=NO_MENTIONS, view=None
            )

        async def follow_up(out: OutMessage, view: discord.ui.View | None) -> discord.Message:
            return await interaction.followup.send(
                out.content or discord.utils.MISSING,
                files=await files_of(out),
                allowed_mentions=NO_MENTIONS,
                ephemeral=private,
                wait=True,
                **with_view(view),
            )

        await deliver(self._agent, reply, messages, owner=owner, send=follow_up)

    async def _to_channel(
        self,
        interaction: discord.Interaction,
        messages: list[OutMessage],
        reply: Reply,
        owner: int,
    ) -> None:
        channel = interaction.channel
        if not isinstance(channel, discord.abc.Messageable):
            return

        async def post(out: OutMessage, view: discord.ui.View | None) -> discord.Message:
            return await channel.send(
                out.content or None,
                files=await files_of(out),
                allowed_mentions=NO_MENTIONS,
                **with_view(view),
            )

        await deliver(self._agent, reply, messages, owner=owner, send=post)


def _editor(interaction: discord.Interaction) -> Callable[[str, discord.ui.View | None], Any]:
    async def edit(line: str, view: discord.ui.View | None) -> None:
        await interaction.edit_original_response(
            content=line, allowed_mentions=NO_MENTIONS, view=view
        )

    return edit


def _done_line(reply: Reply, started: float) -> str:
    seconds = time.monotonic() - started
    if not reply.artifacts or not reply.stored:  # /show shows a piece; it makes none
        return f"Done ({seconds:.0f} s)."
    made = ", ".join(f"#{a.number} {a.kind}" for a in reply.artifacts)
    return f"✓ Made {made} ({seconds:.0f} s)."


def person_of(interaction: discord.Interaction) -> UserRef:
    """Who interacted; whether they may change the server's /settings is Discord's word (the
    Manage Server permission, which administrators have too), never theirs."""
    manages = interaction.guild_id is not None and interaction.permissions.manage_guild
    return UserRef(str(interaction.user.id), interaction.user.display_name, manages_server=manages)


def interaction_place(interaction: discord.Interaction) -> Place:
    channel_id = str(interaction.channel_id)
    if interaction.guild_id is None:
        return Place(channel_id=channel_id, is_direct=True)
    channel = interaction.channel
    if isinstance(channel, discord.Thread):
        return thread_place(channel)  # as chat.py maps a message there: the same session
    restricted = age_restricted(channel)
    return Place(channel_id, str(interaction.guild_id), is_direct=False, age_restricted=restricted)
