"""Replies posted at a place, answering no message: what a session command says to the
session (posted in its thread), and what the agent says unprompted there (Agent.announce_with:
a relay turn passed on at its limit, a round closed at its deadline, the session's end).

A place is its thread (or its channel, for a session outside one, or the DM where a person
asked for a job a crash interrupted), found in discord.py's cache or, after a restart or once
archived, fetched. Posting goes the one way every reply goes
(render.py, delivery.py): parts within the limits, buttons, the ballot's Vote buttons, the
download attached, and the thread archived after the reply that ended the session.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import discord

from agent.turns import Agent
from agent.types import Place, Reply
from bot.discord.chat import NO_MENTIONS, files_of
from bot.discord.delivery import Item, archive_if_ended, deliver, with_view
from bot.discord.render import OutMessage, render_reply

logger = logging.getLogger(__name__)

Postable = discord.TextChannel | discord.Thread | discord.DMChannel


class PlacePoster:
    def __init__(self, client: discord.Client, agent: Agent, *, file_limit_bytes: int) -> None:
        self._client = client
        self._agent = agent
        self._file_limit = file_limit_bytes

    async def announce(self, place: Place, reply: Reply) -> None:
        """The agent's Announce for Discord: `reply` posted at `place`, buttons for nobody's
        pieces (nobody asked). Raises as discord.py does; the agent's clock logs it."""
        channel = await self.channel_at(place)
        if channel is None:
            # What people wrote (a relay's lines, a finale) is logged at DEBUG only.
            logger.warning("no channel for %s to announce in", place)
            logger.debug("the announcement not made: %s", reply.text[:200])
            return
        await self.post(channel, reply, owner=None)

    async def channel_at(self, place: Place) -> Postable | None:
        """The thread (or else the channel) of `place`; None when Discord no longer has it."""
        wanted = place.thread_id or place.channel_id
        if wanted is None or not wanted.isdigit():
            return None
        channel = self._client.get_channel(int(wanted))
        if channel is None:  # not in the cache: just restarted, or archived since
            try:
                channel = await self._client.fetch_channel(int(wanted))
            except (discord.NotFound, discord.Forbidden):
                return None
        return channel if isinstance(channel, Postable) else None

    async def post(
        self,
        channel: Postable,
        reply: Reply,
        *,
        owner: int | None,
        lead: Sequence[Item] = (),
    ) -> list[discord.Message]:
        """`reply` as messages in `channel`, the first with `lead` under it (a session's Join
        and Leave); raises discord.HTTPException as discord.py gives it up."""
        guild = getattr(channel, "guild", None)  # a DM has none: the operator's limit alone
        limit = self._file_limit if guild is None else min(self._file_limit, guild.filesize_limit)
        parts = render_reply(reply, file_limit_bytes=limit)

        async def send(out: OutMessage, view: discord.ui.View | None) -> discord.Message:
            return await channel.send(
                out.content or None,
                files=await files_of(out),
                allowed_mentions=NO_MENTIONS,
                **with_view(view),
            )

        sent = await deliver(self._agent, reply, parts, owner=owner, send=send, lead=lead)
        await archive_if_ended(channel, reply)
        return sent
