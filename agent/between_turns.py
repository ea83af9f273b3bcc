"""What transports ask of the agent besides a turn (Agent in agent/turns.py is one of these):
the person's newest pieces for a picker, whether a group session is on at a place, which
pieces a delivered message showed, and how to speak unprompted at a platform's places (the
session deadlines re-armed, interrupted jobs told), until close."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import NamedTuple

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agent.ledger.interrupted import InterruptedReports
from agent.sessions.clock import SessionClock
from agent.sessions.exporting import SessionExports
from agent.sessions.store import session_at
from agent.store.artifacts import newest_pieces
from agent.store.media import MediaStore
from agent.store.memory import Memory
from agent.store.people import find_user
from agent.store.retry import DatabaseUnavailable, transaction
from agent.types import Announce, Place


class PieceSummary(NamedTuple):
    number: int
    kind: str
    prompt: str


class BetweenTurns:
    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        memory: Memory,
        media: MediaStore,
        exports: SessionExports,
    ) -> None:
        self._sessions = sessions
        self._memory = memory
        self._announcers: dict[str, Announce] = {}
        # The session deadlines' timers; a session's end comes with its export.
        self._clock = SessionClock(sessions, self._announcers, media, exports)
        self._interrupted = InterruptedReports(sessions)
        self._rearming: set[asyncio.Task[int]] = set()

    async def recent_pieces(
        self, platform: str, external_id: str, limit: int = 25
    ) -> list[PieceSummary]:
        """The person's newest pieces (in conversations they own), for pickers such as
        Discord's autocomplete of #N."""
        async with self._sessions() as session:
            user = await find_user(session, platform, external_id)
            if user is None:
                return []
            rows = await newest_pieces(session, user.id, limit)
        return [PieceSummary(number, kind, prompt) for number, kind, prompt in rows]

    async def session_on(self, platform: str, place: Place) -> bool:
        """Whether a group session is on at `place`: there every message is for the bot,
        mentioned or not (a Discord thread)."""
        async with self._sessions() as session:
            return await session_at(session, platform, place) is not None

    def announce_with(self, platform: str, announce: Announce) -> None:
        """How to speak unprompted at a place of `platform` (a relay turn passed on at its
        timeout, a round closed at its deadline). Called on the running event loop, when the
        transport starts: the deadlines of the platform's sessions are re-armed then, so a
        restart keeps them (those that passed meanwhile fire at once)."""
        self._announcers[platform] = announce
        loop = asyncio.get_running_loop()
        # Jobs a crash interrupted are told to their owners then too (agent/ledger/).
        interrupted = self._interrupted.announce(platform, announce)
        for task in (loop.create_task(self._clock.rearm(platform)), loop.create_task(interrupted)):
            self._rearming.add(task)
            task.add_done_callback(self._rearming.discard)

    async def close(self) -> None:
        """Stop the session timers (the deadlines stay stored)."""
        self._clock.close()

    async def record_delivery(
        self, platform_message_id: str, artifact_numbers: Sequence[int]
    ) -> None:
        """A transport sent the message `platform_message_id` showing these pieces: a later
        reply to that message makes them the piece in focus (see artifacts.resolve_focus)."""
        if not artifact_numbers:
            return

        async def mark(session: AsyncSession) -> int:
            return await self._memory.mark_shown(session, artifact_numbers, platform_message_id)

        try:
            await transaction(self._sessions, mark, doing="recording a delivered message")
        except DatabaseUnavailable:  # logged; the answer is out, only a reply to that message
            return  # loses its piece in focus (the parts after it are still sent)
