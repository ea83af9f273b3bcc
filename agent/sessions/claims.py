"""Claiming a session's deadline before acting on it, so that it is acted on once.

Every bot process re-arms the deadlines of every open session (clock.py), so with several
processes on one database (a sharded bot, bot/discord/sharding.py) each has the same timer
armed, and all of them fire. The action's transaction first claims the deadline: a conditional
UPDATE on the value the timer was armed with, which only one transaction can make. On
PostgreSQL the row lock makes a second claimer wait for the first to commit, then see the row
as it is now: the deadline moved on (the next member's turn), the round closed, the session
ended, so it updates nothing and the clock says nothing. On SQLite the claim takes the write
lock, and it must be the transaction's first statement: nothing read before it can be stale.

A claim also finds the session live (open or locked): a paused session's deadlines wait for
its resume, an ended one has none. Every claim goes through the session's row, so a round's
close and the session's end, due together, are taken one after the other, never both at once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, update
from sqlalchemy.ext.asyncio import AsyncSession

from agent.store.db import GroupSession, RoundState, SessionRound, SessionState, utcnow

LIVE = (SessionState.OPEN, SessionState.LOCKED)  # a deadline of these sessions moves things on


async def claim_turn(session: AsyncSession, group_id: int, due: datetime) -> bool:
    """The relay turn due at `due` is this transaction's to pass on (its deadline is cleared;
    passing the turn sets the next one's)."""
    return await _claim_session(
        session, group_id, GroupSession.turn_due_at == due, turn_due_at=None
    )


async def claim_end(session: AsyncSession, group_id: int, ends_at: datetime) -> bool:
    """The session's end at `ends_at` is this transaction's to make (it is ended now)."""
    ended = {"state": SessionState.ENDED, "ended_at": utcnow()}
    return await _claim_session(session, group_id, GroupSession.ends_at == ends_at, **ended)


async def claim_round_close(
    session: AsyncSession, group_id: int, closes_at: datetime
) -> int | None:
    """The id of the session's open round closing at `closes_at`, now closed for this
    transaction to count; None when another took it, or it closed or moved meanwhile."""
    # The session's row first (its state, unchanged): a claim of its end waits for this one.
    if not await _claim_session(session, group_id):
        return None
    closing = (
        update(SessionRound)
        .where(
            SessionRound.session_id == group_id,
            SessionRound.state == RoundState.OPEN,
            SessionRound.closes_at == closes_at,
        )
        .values(state=RoundState.CLOSED, closed_at=utcnow())
        .returning(SessionRound.id)
        .execution_options(synchronize_session=False)
    )
    return (await session.execute(closing)).scalar_one_or_none()


async def _claim_session(
    session: AsyncSession, group_id: int, holds: ColumnElement[bool] | None = None, **values: Any
) -> bool:
    """Update the live session's row (where `holds` too); True when it did: it is ours."""
    conditions = [GroupSession.id == group_id, GroupSession.state.in_(LIVE)]
    claim = (
        update(GroupSession)
        .where(*conditions, *([] if holds is None else [holds]))
        .values(values or {"state": GroupSession.state})  # no change: the row's lock alone
        .execution_options(synchronize_session=False)
    )
    result = await session.execute(claim)
    return result.rowcount == 1  # type: ignore[attr-defined]  # a CursorResult's
