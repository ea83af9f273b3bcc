"""A job's piece stored exactly once: whoever stores it flips its row from running to done in
the transaction that inserts the piece.

The flip is a conditional UPDATE (`WHERE state = 'running'`) whose rowcount must be 1. Two
processes storing one job (the turn that awaited a remote result and a redelivered copy of it
that arrived unclaimed, or two bot processes) each try it; on PostgreSQL the second waits on
the row's lock and then finds it done, on SQLite writers take turns; either way one stores and
the other inserts nothing. A job the start-up sweep reported interrupted, or one called off,
is no longer running either: its late result is dropped, as its owner was told.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from agent.cancelling.command import CANCELLED
from agent.ledger.models import NOTE_CHARS, Job, JobState

# The turn's line when its job's row had left running before its piece could be stored.
ALREADY_STORED = "This piece was stored already; nothing more was kept."
NO_LONGER_AWAITED = (
    "atelier had reported this job interrupted meanwhile; nothing was stored. Ask again when "
    "you like."
)
GIVEN_UP = "This job had been given up meanwhile; nothing was stored."
GONE = "This conversation was forgotten meanwhile; nothing was kept."


async def claim_for_storing(
    session: AsyncSession,
    job_id: int,
    *,
    now: datetime,
    tool_seconds: float,
    unclaimed: bool = False,
) -> str | None:
    """Flip the job from running to done in the caller's transaction, before its piece is
    inserted. None when this caller stores it; else the row's state ("" when it is gone), and
    the caller must insert nothing. `unclaimed`: its result arrived with nobody waiting, so its
    owner is owed the news (agent/ledger/owed.py)."""
    flip = (
        update(Job)
        .where(Job.id == job_id, Job.state == JobState.RUNNING)
        .values(
            state=JobState.DONE,
            finished_at=now,
            tool_seconds=tool_seconds,
            unclaimed_at=now if unclaimed else None,
        )
    )
    if (await session.execute(flip)).rowcount == 1:
        return None
    return await _state_of(session, job_id)


async def close_unmade(
    session: AsyncSession,
    job_id: int,
    *,
    state: JobState,
    note: str | None,
    now: datetime,
    tool_seconds: float,
) -> bool:
    """A job whose result made nothing, closed as failed or cancelled if it is still running
    (and its owner owed the news, `note` saying why); False when another got there first."""
    flip = (
        update(Job)
        .where(Job.id == job_id, Job.state == JobState.RUNNING)
        .values(
            state=state,
            finished_at=now,
            tool_seconds=tool_seconds,
            unclaimed_at=now,
            note=None if note is None else note[:NOTE_CHARS],
        )
    )
    return (await session.execute(flip)).rowcount == 1


def not_stored_line(state: str) -> str:
    """What the person is told when their turn's job had left running before it stored."""
    if state == JobState.DONE:
        return ALREADY_STORED
    if state == JobState.INTERRUPTED:
        return NO_LONGER_AWAITED
    if state == JobState.CANCELLED:
        return CANCELLED
    return GONE if not state else GIVEN_UP


async def _state_of(session: AsyncSession, job_id: int) -> str:
    found = await session.scalar(select(Job.state).where(Job.id == job_id))
    return found or ""
