"""Session deadlines: a relay turn passes on at its limit, a round closes at its deadline.

The deadlines live in the database (group_sessions.turn_due_at, session_rounds.closes_at);
this clock only keeps an asyncio timer per deadline, so a restart loses nothing: when a
transport registers how to speak at its places, the clock re-arms every deadline of that
platform (`rearm`), firing at once those that passed while the bot was down. After any change
to a session, `sync` re-reads its deadlines and arms them. A timer that fires acts only if the
deadline it was armed with still holds (the turn was not taken, the round not closed
meanwhile), then says what happened at the session's place. A session's end time ends it
the same way. Several bot processes on one database all arm the same deadlines: the action
claims its deadline in the database first, in its own transaction (claims.py), so one of
them acts and speaks, and the others find nothing to do and say nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agent.sessions.claims import claim_end, claim_round_close, claim_turn
from agent.sessions.exporting import SessionExports
from agent.sessions.finale import end_session
from agent.sessions.relay import pass_turn, whose_turn
from agent.sessions.rounds import closed_reply, open_round
from agent.store.db import (
    Conversation,
    GroupSession,
    SessionRound,
    SessionState,
    utcnow,
)
from agent.store.media import MediaStore
from agent.types import Announce, Place, Reply

logger = logging.getLogger(__name__)

TimerKey = tuple[str, int]  # ("turn" | "round" | "end", session id)


class SessionClock:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        announcers: Mapping[str, Announce],
        media: MediaStore,
        exports: SessionExports,
    ) -> None:
        self._sessions = sessions
        self._media = media
        self._exports = exports
        self._announcers = announcers
        self._timers: dict[TimerKey, asyncio.TimerHandle] = {}
        self._firing: set[asyncio.Task[None]] = set()

    async def rearm(self, platform: str) -> int:
        """Arm every deadline of `platform`'s open sessions; returns how many."""
        query = (
            select(GroupSession)
            .join(Conversation, GroupSession.conversation_id == Conversation.id)
            .where(Conversation.platform == platform, GroupSession.state != SessionState.ENDED)
        )
        armed = 0
        async with self._sessions() as session:
            groups = (await session.execute(query)).scalars().all()
            for group in groups:
                armed += await self._arm_from(session, group)
        return armed

    async def sync(self, group_id: int) -> None:
        """Arm (or disarm) the session's deadlines as the database has them now."""
        async with self._sessions() as session:
            group = await session.get(GroupSession, group_id)
            if group is not None:
                await self._arm_from(session, group)

    def close(self) -> None:
        for handle in self._timers.values():
            handle.cancel()
        self._timers.clear()

    async def _arm_from(self, session: AsyncSession, group: GroupSession) -> int:
        """Arm the session's deadlines (disarm those it has no more); returns how many."""
        # An ended session has no deadlines; a paused one keeps them for its resume.
        still = group.state not in (SessionState.ENDED, SessionState.PAUSED)
        round_ = await open_round(session, group) if still else None
        deadlines: dict[TimerKey, datetime | None] = {
            ("turn", group.id): group.turn_due_at if still else None,
            ("round", group.id): None if round_ is None else round_.closes_at,
            ("end", group.id): group.ends_at if still else None,
        }
        for key, when in deadlines.items():
            self._arm(key, when)
        return sum(when is not None for when in deadlines.values())

    def _arm(self, key: TimerKey, when: datetime | None) -> None:
        old = self._timers.pop(key, None)
        if old is not None:
            old.cancel()
        if when is None:
            return
        delay = max(0.0, (when - utcnow()).total_seconds())
        loop = asyncio.get_running_loop()
        self._timers[key] = loop.call_later(delay, self._fire, key, when)

    async def settled(self) -> None:
        """Wait until the deadlines being acted on now are done with (announced, or not)."""
        while self._firing:
            await asyncio.gather(*self._firing)

    def _fire(self, key: TimerKey, due: datetime) -> None:
        self._timers.pop(key, None)
        task = asyncio.create_task(self._expire(key, due))
        self._firing.add(task)
        task.add_done_callback(self._firing.discard)

    async def _expire(self, key: TimerKey, due: datetime) -> None:
        kind, group_id = key
        try:
            said = await self._act(kind, group_id, due)
        except Exception:  # a timer has nobody to answer: the log keeps it
            logger.exception("session %s: the %s deadline could not be applied", group_id, kind)
            return
        if said is not None:
            platform, place, reply = said
            if reply.session_ended:  # the finale comes with the export, as /session end's does
                reply = await self._exports.attach(reply, group_id)
            await self._announce(platform, place, reply)
        await self.sync(group_id)

    async def _act(
        self, kind: str, group_id: int, due: datetime
    ) -> tuple[str, Place, Reply] | None:
        if due > utcnow():  # early by the wall clock: `sync` arms it again for the rest
            return None
        act = _LATE[kind]
        async with self._sessions() as session, session.begin():
            # Paused, nothing moves on (a deadline that passed meanwhile fires on resume);
            # taken by another process, or changed meanwhile, it is not ours to act on.
            reply = await act(session, group_id, due, self._media)
            if reply is None:
                return None
            conversation = (await session.get_one(GroupSession, group_id)).conversation
            return conversation.platform, place_of(conversation), reply

    async def _announce(self, platform: str, place: Place, reply: Reply) -> None:
        announce = self._announcers.get(platform)
        if announce is None:
            # What people wrote (a relay's lines, a finale) is logged at DEBUG only.
            logger.warning("no transport to announce on %s at %s", platform, place)
            logger.debug("the announcement not made: %s", reply.text)
            return
        try:
            await announce(place, reply)
        except Exception:  # the change is stored; only the announcement failed
            logger.exception("announcing at %s failed", place)


async def _pass_late_turn(
    session: AsyncSession, group_id: int, due: datetime, media: MediaStore
) -> Reply | None:
    if not await claim_turn(session, group_id, due):
        return None
    group = await session.get_one(GroupSession, group_id)
    late = whose_turn(group)
    following = pass_turn(group)
    name = "The member" if late is None else late.user.display_name
    if following is None:
        return Reply(f"{name}'s turn ran out; nobody is left to take it.", stored=False)
    said = f"{name}'s turn ran out. It is {following.user.display_name}'s turn now."
    return Reply(said, stored=False)


async def _close_late(
    session: AsyncSession, group_id: int, due: datetime, media: MediaStore
) -> Reply | None:
    round_id = await claim_round_close(session, group_id, due)
    if round_id is None:
        return None
    round_ = await session.get_one(SessionRound, round_id)
    return await closed_reply(session, round_, media, "Time is up. ")


async def _end_late(
    session: AsyncSession, group_id: int, due: datetime, media: MediaStore
) -> Reply | None:
    if not await claim_end(session, group_id, due):
        return None
    group = await session.get_one(GroupSession, group_id)
    ended = await end_session(session, group, media)
    return replace(ended, text="The session's time is up.\n" + ended.text)


# What each deadline does once claimed, in the claim's transaction; None: not ours.
_LATE: dict[str, Callable[[AsyncSession, int, datetime, MediaStore], Awaitable[Reply | None]]] = {
    "turn": _pass_late_turn,
    "round": _close_late,
    "end": _end_late,
}


def place_of(conversation: Conversation) -> Place:
    return Place(
        channel_id=conversation.channel_id,
        guild_id=conversation.guild_id,
        thread_id=conversation.thread_id,
        is_direct=False,
    )
