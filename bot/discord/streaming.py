"""A chat reply shown in Discord as the model writes it.

The agent hands over the text so far (agent/types.py TextSink) as often as the model writes;
Discord rate-limits edits, and a person reads no faster than about once a second, so, as with
progress (progress.py), only the latest text is kept and one task shows it. A reply that is
done within a second of its first words is never shown early: it is sent whole, in one
message, as if nothing streamed. A longer one is posted (as the answer to the person's message)
once it has been writing for a second, then edited at most once a second. `finish()` stops the
edits before the Reply is delivered; the delivery then puts the Reply's first part into that
message (chat.py), so the person sees one answer, never the draft and the answer beside it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from contextlib import suppress

import discord

from bot.discord.progress import EDIT_INTERVAL_S
from bot.discord.render import MESSAGE_LIMIT

logger = logging.getLogger(__name__)

WRITING = " …"  # after the text while the model is still writing


class StreamedAnswer:
    def __init__(
        self,
        post: Callable[[str], Awaitable[discord.Message]],
        *,
        interval_s: float = EDIT_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._post = post
        self._interval = interval_s
        self._clock = clock
        self._latest = ""
        self._shown = ""
        self._started: float | None = None  # when the first words came
        self._last_edit = -float("inf")
        self._finishing = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.message: discord.Message | None = None

    def show(self, text: str) -> None:
        """The reply so far (the Turn's stream sink); called on the event loop, never blocks."""
        if self._finishing.is_set() or not text.strip():
            return
        self._latest = text
        if self._started is None:
            self._started = self._clock()
            self._last_edit = self._started  # the first show waits a whole interval too
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._show())

    async def finish(self) -> discord.Message | None:
        """Stop showing; the message the draft is in, if one was posted, for the Reply."""
        self._finishing.set()
        if self._task is not None:
            with suppress(asyncio.CancelledError):
                await self._task
        return self.message

    async def _show(self) -> None:
        while self._latest != self._shown and not self._finishing.is_set():
            wait = self._last_edit + self._interval - self._clock()
            if wait > 0 and await self._finished_within(wait):
                return
            text = self._latest
            self._last_edit = self._clock()
            try:
                await self._put(draft(text))
            except discord.HTTPException as exc:  # a courtesy: the Reply is what counts
                logger.debug("showing the reply so far failed: %s", exc)
            self._shown = text

    async def _finished_within(self, seconds: float) -> bool:
        with suppress(TimeoutError):
            await asyncio.wait_for(self._finishing.wait(), seconds)
        return self._finishing.is_set()

    async def _put(self, content: str) -> None:
        if self.message is None:
            self.message = await self._post(content)
        else:
            self.message = await self.message.edit(content=content)


def draft(text: str) -> str:
    """The text so far as one message: its start when it is already longer than one (the
    Reply is split into parts at the end)."""
    text = text.strip()
    room = MESSAGE_LIMIT - len(WRITING)
    return (text if len(text) <= room else text[: room - 1] + "…") + WRITING
