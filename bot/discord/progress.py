"""Progress of a long command, shown by editing one message at most once a second.

The agent calls `update(fraction, label)` on the event loop as a tool reports progress, as
often as the tool likes; Discord rate-limits edits, and a person cannot read faster than
about once a second anyway. So updates only record the latest state, and one task shows it:
at once if nothing was shown in the last interval, else when the interval is up, skipping
the states in between. `close()` stops it before the result is delivered, so a late edit
never overwrites the final status. Told the job it reports on (agent/types.py ShowsJobs), it
shows a Cancel button under the line from then on.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from contextlib import suppress

import discord

from agent.types import RunningJob

logger = logging.getLogger(__name__)

EDIT_INTERVAL_S = 1.0

# Shows a line and the buttons under it (None: none).
Edit = Callable[[str, discord.ui.View | None], Awaitable[object]]


def progress_line(what: str, fraction: float, label: str) -> str:
    """`⏳ poem: writing candidates (40%)`."""
    percent = round(100 * min(max(fraction, 0.0), 1.0))
    stage = f"{label} " if label else ""
    return f"⏳ {what}: {stage}({percent}%)"


class ProgressMessage:
    def __init__(
        self,
        what: str,
        edit: Edit,
        *,
        cancel: Callable[[RunningJob], discord.ui.View] | None = None,
        interval_s: float = EDIT_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._what = what
        self._edit = edit
        self._cancel = cancel  # the Cancel button's view for a job, where one is offered
        self._view: discord.ui.View | None = None
        self._shown_view: discord.ui.View | None = None
        self._interval = interval_s
        self._clock = clock
        self._latest: str | None = None
        self._shown: str | None = None
        self._last_edit = -float("inf")
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    def update(self, fraction: float, label: str) -> None:
        """Called on the event loop (agent/types.py ProgressSink); never blocks."""
        if self._closed:
            return
        self._latest = progress_line(self._what, fraction, label)
        self._soon()

    __call__ = update  # the Turn's progress sink is the message itself

    def job_started(self, job: RunningJob) -> None:
        """The job this message reports on: its Cancel button goes under the line."""
        if self._closed or self._cancel is None:
            return
        self._view = self._cancel(job)
        self._latest = self._latest or f"⏳ {self._what}"
        self._soon()

    def _soon(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._show())

    async def close(self) -> None:
        self._closed = True
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task

    async def _show(self) -> None:
        while self._latest != self._shown or self._view is not self._shown_view:
            # The Cancel button is shown at once, once per message; lines once a second.
            if self._view is self._shown_view:
                wait = self._last_edit + self._interval - self._clock()
                if wait > 0:
                    await asyncio.sleep(wait)
                self._last_edit = self._clock()
            line, view = self._latest, self._view
            try:
                await self._edit(line or "", view)
            except discord.HTTPException as exc:  # progress is a courtesy; the result matters
                logger.debug("progress edit failed: %s", exc)
            self._shown, self._shown_view = line, view
