"""Chat: the bot answers when mentioned, in DMs, in replies to its own messages, and every
message in a thread where a group session is on (there the members talk to the session).

Each message it answers becomes an agent Turn; the Reply is rendered (render.py) and sent as a
reply to the person's message, with buttons under each piece made (buttons.py). A person over
the rate limit (limits.py) is told when to come back. The pieces a message shows are recorded
against its Discord id, so a later reply to that message is about them. Other bots, the bot
itself and system messages are ignored. Nothing here blocks the event loop: the agent does its
model work in threads, and files are read from disk in threads too.
"""

from __future__ import annotations

import asyncio
import io
import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

import discord
from discord.abc import Messageable
from discord.ext import commands

from agent.apology import apology
from agent.turns import Agent
from agent.types import Attachment, Place, Reply, TextSink, Turn, UserRef
from bot.discord.delivery import archive_if_ended, deliver, with_view
from bot.discord.limits import RateLimiter
from bot.discord.render import OutFile, OutMessage, render_reply
from bot.discord.shrink_images import shrunk_to_fit
from bot.discord.streaming import StreamedAnswer
from tools.contract import Tool
from tools.units import MIB

logger = logging.getLogger(__name__)

PLATFORM = "discord"
NO_MENTIONS = discord.AllowedMentions.none()
# Discord shows "typing..." for about 10 s per request; renewed while the agent works.
TYPING_RENEW_S = 8.0
# Only people's own messages: not joins, pins, thread starts and other system messages.
CHAT_TYPES = frozenset({discord.MessageType.default, discord.MessageType.reply})


class Chat(commands.Cog):
    def __init__(
        self,
        bot: commands.Bot,
        agent: Agent,
        *,
        file_limit_bytes: int,
        limiter: RateLimiter | None = None,
    ) -> None:
        self._bot = bot
        self._agent = agent
        self._file_limit = file_limit_bytes
        self._limiter = limiter

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        me = self._bot.user
        if me is None or not await self._for_me(message, me):
            return
        # The server's /settings: silent in channels it leaves out and to people it ignores.
        place, author = place_of(message), str(message.author.id)
        if await self._agent.policy.refusal(PLATFORM, place, author) is not None:
            return
        wait = None if self._limiter is None else self._limiter.wait_s(str(message.author.id))
        if wait is not None:
            assert self._limiter is not None
            await self._deliver(message, Reply(self._limiter.refusal(wait), stored=False))
            return
        # The reply is shown as it is written (streaming.py), then delivered into that message.
        streamed = StreamedAnswer(lambda text: self._post_draft(message, text))
        async with showing_typing(message.channel):
            reply = await self._answer(message, me, streamed.show)
        await self._deliver(message, reply, await streamed.finish())

    async def _for_me(self, message: discord.Message, me: discord.ClientUser) -> bool:
        """Whether to answer: addressed to the bot, or a person's message in a session thread.
        The database is asked only about messages in threads, where sessions live."""
        if addresses(message, me):
            return True
        if not isinstance(message.channel, discord.Thread) or not from_a_person(message, me):
            return False
        return await self._agent.session_on(PLATFORM, place_of(message))

    async def _answer(
        self, message: discord.Message, me: discord.ClientUser, stream: TextSink | None = None
    ) -> Reply:
        try:
            attachments = await self._download(message.attachments)
        except RefusedFile as refused:
            return Reply(str(refused), stored=False)
        turn = Turn(
            platform=PLATFORM,
            user=UserRef(str(message.author.id), message.author.display_name),
            place=place_of(message),
            text=without_mention(message.content, me.id),
            attachments=attachments,
            reply_to=replied_id(message),
            stream=stream,
        )
        try:
            return await self._agent.respond(turn)
        except Exception:  # noqa: BLE001 - the person gets a reference; the log keeps the rest
            return apology(logger, what_failed=f"answering message {message.id} failed")

    async def _download(self, files: list[discord.Attachment]) -> tuple[Attachment, ...]:
        read: list[Attachment] = []
        for file in files:
            if file.size > self._file_limit:
                raise RefusedFile(
                    f"{file.filename} is {file.size / MIB:.1f} MiB; I read files up to "
                    f"{self._file_limit / MIB:.0f} MiB. Nothing was stored."
                )
            try:
                data = await file.read()
            except discord.HTTPException as exc:
                raise RefusedFile(f"I could not download {file.filename} ({exc.status}).") from exc
            mime_type = file.content_type or "application/octet-stream"
            read.append(Attachment(file.filename, mime_type, data))
        return tuple(read)

    async def _post_draft(self, message: discord.Message, text: str) -> discord.Message:
        """The first look at a reply being written, as the answer to the person's message."""
        return await message.channel.send(
            text,
            allowed_mentions=NO_MENTIONS,
            reference=_reference(message),  # type: ignore[arg-type]
            mention_author=False,
        )

    async def _deliver(
        self, message: discord.Message, reply: Reply, draft: discord.Message | None = None
    ) -> None:
        """Send the Reply; with `draft` (the reply shown as it was written) its first part
        goes into that message instead of a new one."""
        parts = render_reply(reply, file_limit_bytes=self._file_limit)
        # Answers in a server reply to the person's message, so a busy channel shows who
        # asked what; fail_if_not_exists=False still answers if it was deleted meanwhile.
        references = [message.to_reference(fail_if_not_exists=False)] if message.guild else []
        drafts = [draft] if draft is not None else []

        async def send(out: OutMessage, view: discord.ui.View | None) -> discord.Message:
            if drafts:
                completed = await completed_draft(drafts[0], out, view)
                drafts.clear()
                if completed is not None:
                    references.clear()
                    return completed
            sent = await message.channel.send(
                out.content or None,
                files=await files_of(out),
                allowed_mentions=NO_MENTIONS,
                reference=references[0] if references else None,  # type: ignore[arg-type]
                mention_author=False,
                **with_view(view),
            )
            references.clear()  # only once sent: a part sent again still answers the message
            return sent

        try:
            await deliver(self._agent, reply, parts, owner=message.author.id, send=send)
            await archive_if_ended(message.channel, reply)
        except discord.HTTPException:
            # discord.py has already retried 429s and 5xx; the answer is lost, not the history.
            logger.exception("sending the answer to message %s failed", message.id)

    @property
    def _tools(self) -> tuple[Tool, ...]:
        return self._agent.tools


async def completed_draft(
    draft: discord.Message, out: OutMessage, view: discord.ui.View | None
) -> discord.Message | None:
    """The draft made the Reply's first part: its words, files and buttons. None when it
    cannot be (deleted meanwhile): the part is then sent as a message of its own."""
    try:
        return await draft.edit(
            content=out.content,
            attachments=await files_of(out),
            allowed_mentions=NO_MENTIONS,
            **with_view(view),
        )
    except discord.NotFound:
        return None


def _reference(message: discord.Message) -> discord.MessageReference | None:
    return message.to_reference(fail_if_not_exists=False) if message.guild else None


class RefusedFile(Exception):
    """An attachment that cannot be read; the message is one line for the person."""


def from_a_person(message: discord.Message, me: discord.ClientUser) -> bool:
    """A person's own message: not a bot's (the bot's own included), not a system message."""
    return not (message.author.bot or message.author.id == me.id or message.type not in CHAT_TYPES)


def addresses(message: discord.Message, me: discord.ClientUser) -> bool:
    """Whether `message` is for the bot: a DM, a mention, or a reply to one of its messages.
    Never a bot's message (its own included), and never @everyone alone."""
    if not from_a_person(message, me):
        return False
    if message.guild is None:
        return True
    if any(user.id == me.id for user in message.mentions):
        return True
    replied = _replied_message(message)
    return replied is not None and replied.author.id == me.id


def _replied_message(message: discord.Message) -> discord.Message | None:
    reference = message.reference
    if reference is None:
        return None
    resolved = reference.resolved
    if isinstance(resolved, discord.Message):
        return resolved
    return reference.cached_message


def replied_id(message: discord.Message) -> str | None:
    reference = message.reference
    if reference is None or reference.message_id is None:
        return None
    return str(reference.message_id)


def without_mention(content: str, my_id: int) -> str:
    """The text with the bot's own mentions taken out (they address it, they say nothing)."""
    return re.sub(rf"<@!?{my_id}>", "", content).strip()


def place_of(message: discord.Message) -> Place:
    channel = message.channel
    if message.guild is None:
        return Place(channel_id=str(channel.id), is_direct=True)
    if isinstance(channel, discord.Thread):
        return thread_place(channel)
    return Place(
        str(channel.id),
        str(message.guild.id),
        is_direct=False,
        age_restricted=age_restricted(channel),
    )


def thread_place(thread: discord.Thread) -> Place:
    """A thread as a Place: its parent channel and itself. Messages, slash commands and the
    session started there all use this one mapping, so they meet in the same session."""
    return Place(
        str(thread.parent_id),
        str(thread.guild.id),
        str(thread.id),
        is_direct=False,
        age_restricted=thread.is_nsfw(),  # its parent channel's flag
    )


def age_restricted(channel: object) -> bool:
    """Discord's age-restricted (nsfw) flag of a server's channel; False where there is none."""
    is_nsfw = getattr(channel, "is_nsfw", None)
    return bool(is_nsfw()) if callable(is_nsfw) else False


@asynccontextmanager
async def showing_typing(channel: Messageable) -> AsyncIterator[None]:
    """Shows "typing..." in `channel` until the block ends. Showing it is a courtesy: a
    failure to is logged and never keeps the answer from being sent."""

    async def keep_typing() -> None:
        while True:
            try:
                await channel.typing()  # awaited, one typing request
            except discord.HTTPException as exc:
                logger.debug("typing indicator failed: %s", exc)
            await asyncio.sleep(TYPING_RENEW_S)

    task = asyncio.create_task(keep_typing())
    try:
        yield
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task


async def files_of(out: OutMessage) -> list[discord.File]:
    return [await _file(f) for f in out.files]


async def _file(out: OutFile) -> discord.File:
    # Media files can be megabytes: read them in a thread, not on the event loop.
    data = out.data if out.data is not None else await asyncio.to_thread(_read, out)
    return discord.File(io.BytesIO(data), filename=out.filename)


def _read(out: OutFile) -> bytes:
    assert out.path is not None
    data = out.path.read_bytes()
    return data if out.shrink_to is None else shrunk_to_fit(data, out.shrink_to)
