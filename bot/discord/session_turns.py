"""A /session command or a session button, answered where Discord lets it be seen.

The agent tells only after its work whether a reply is for the asker alone (`Reply.private`:
a refusal, a line of a hidden relay), but Discord fixes an interaction's visibility when it
is acknowledged, within 3 s. So each is deferred ephemerally ("thinking...", the asker's
alone): a private reply then takes that message's place; any other is for the session and is
posted in its thread (posting.py), and the asker's "thinking..." is deleted.

`/session start` in a channel opens a public thread named after the theme and starts the
session there, at the place every message in the thread maps to (chat.py thread_place). Its
welcome is posted in the thread with Join and Leave buttons and pinned, and the asker is told
where it is. A start the agent refuses (or that fails) deletes the thread it opened, so no
empty thread is left behind. Used in a thread, the session starts in that thread.
"""

from __future__ import annotations

import logging
import time
from contextlib import suppress

import discord

from agent.turns import Agent
from agent.types import Command, Reply
from bot.discord.chat import NO_MENTIONS, PLATFORM, thread_place
from bot.discord.interactions import InteractionTurns
from bot.discord.posting import PlacePoster, Postable
from bot.discord.session_buttons import entry_buttons

logger = logging.getLogger(__name__)

THREAD_NAME_LIMIT = 100  # Discord's
# A session can run for days between messages: its thread stays listed for a week (Discord's
# longest), not the channel's default day.
THREAD_ARCHIVE_MINUTES = 10080
NOT_HERE = "A session starts in a server's text channel (it opens a thread) or in a thread."


class SessionTurns:
    def __init__(self, agent: Agent, turns: InteractionTurns, poster: PlacePoster) -> None:
        self._agent = agent
        self._turns = turns
        self._poster = poster

    async def pressed(self, interaction: discord.Interaction, command: Command) -> None:
        """A session button (Join, Leave, Vote #N): the same as its slash command."""
        await self.run(interaction, command, what=f"session {command.args['action']}")

    async def run(
        self,
        interaction: discord.Interaction,
        command: Command,
        *,
        what: str,
        counted: bool = False,
    ) -> None:
        if not await self._turns.admit(interaction, counted=counted):
            return
        started = time.monotonic()
        await interaction.response.defer(thinking=True, ephemeral=True)
        turn = self._turns.turn_of(interaction, command)
        reply = await self._turns.respond(interaction, turn, what=what)
        owner = interaction.user.id
        channel = interaction.channel
        try:
            if reply.private or not isinstance(channel, Postable):
                await self._turns.answer(interaction, reply, owner, private=True, started=started)
                return
            await self._post(interaction, channel, reply, started)
        except discord.HTTPException:
            # discord.py has already retried 429s and 5xx; the answer is lost, not the session.
            logger.exception("answering /session %s failed", command.args.get("action"))

    async def start(self, interaction: discord.Interaction, command: Command) -> None:
        if not await self._turns.admit(interaction, counted=True):
            return
        started = time.monotonic()
        await interaction.response.defer(thinking=True, ephemeral=True)
        try:
            thread, opened = await self._thread_for(interaction.channel, command.text)
        except discord.HTTPException as error:
            await self._tell(interaction, f"I could not open a thread here: {error.text}.")
            return
        if thread is None:
            await self._tell(interaction, NOT_HERE)
            return
        place = thread_place(thread)
        # A thread with a session on already: the agent refuses, and nothing here changes.
        already = not opened and await self._agent.session_on(PLATFORM, place)
        turn = self._turns.turn_of(interaction, command, place=place)
        reply = await self._turns.respond(interaction, turn, what="session start")
        if already or not await self._agent.session_on(PLATFORM, place):  # refused, or failed
            if opened:
                await _take_back(thread)
            owner = interaction.user.id
            await self._turns.answer(interaction, reply, owner, private=True, started=started)
            return
        await self._welcome(interaction, thread, reply)

    async def _thread_for(self, channel: object, theme: str) -> tuple[discord.Thread | None, bool]:
        """The thread the session goes in, and whether it was opened for it."""
        if isinstance(channel, discord.Thread):
            return channel, False
        if not isinstance(channel, discord.TextChannel):
            return None, False
        opened = await channel.create_thread(
            name=thread_name(theme),
            type=discord.ChannelType.public_thread,
            auto_archive_duration=THREAD_ARCHIVE_MINUTES,
        )
        return opened, True

    async def _welcome(
        self, interaction: discord.Interaction, thread: discord.Thread, reply: Reply
    ) -> None:
        try:
            welcome = await self._poster.post(thread, reply, owner=None, lead=entry_buttons())
        except discord.HTTPException:
            logger.exception("posting the welcome of the session in %s failed", thread.id)
            await self._tell(
                interaction, f"The session is on in {thread.mention}; I could not post there."
            )
            return
        try:
            await welcome[0].pin()
        except discord.HTTPException as error:  # a courtesy: the session is on regardless
            logger.warning("pinning the welcome in %s failed: %s", thread.id, error)
        said = f"The session is on in {thread.mention}; its welcome is pinned there."
        await self._tell(interaction, said)

    async def _post(
        self,
        interaction: discord.Interaction,
        channel: Postable,
        reply: Reply,
        started: float,
    ) -> None:
        """Post the reply for the session; the asker's "thinking..." then goes. If Discord
        refuses the post, the asker at least gets the reply."""
        owner = interaction.user.id
        try:
            await self._poster.post(channel, reply, owner=owner)
        except discord.HTTPException:
            logger.exception("posting in %s failed; answering the asker alone", channel.id)
            await self._turns.answer(interaction, reply, owner, private=True, started=started)
            return
        with suppress(discord.HTTPException):  # gone already, or the token expired
            await interaction.delete_original_response()

    async def _tell(self, interaction: discord.Interaction, text: str) -> None:
        await interaction.edit_original_response(content=text, allowed_mentions=NO_MENTIONS)


async def _take_back(thread: discord.Thread) -> None:
    """Remove a thread opened for a session that did not start. Deleting takes Manage
    Threads; without it the thread is archived (its creator may), out of the channel list."""
    try:
        await thread.delete()
    except discord.HTTPException as error:
        logger.warning("deleting thread %s failed (%s); archiving it", thread.id, error)
        with suppress(discord.HTTPException):
            await thread.edit(archived=True)


def thread_name(theme: str) -> str:
    """The theme on one line, within Discord's limit for a thread's name."""
    name = " ".join(theme.split()) or "session"
    return name if len(name) <= THREAD_NAME_LIMIT else name[: THREAD_NAME_LIMIT - 1] + "…"
