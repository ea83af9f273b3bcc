"""Quotas counted from the ledger: a person's and a server's jobs per hour, a person's tool
seconds per day (0: no limit). Windows roll: a job counts for the hour (or day) after it
started, so a person over a limit may ask again when enough of their jobs have aged out, and
is told when that is.

The check and the new job's row share a transaction but not a lock: two requests at the very
same moment may both pass at one below the limit (one job over, never more per request).
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from agent.ledger.models import Job
from agent.scope import Scope

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


@dataclass(frozen=True)
class Quotas:
    person_jobs_per_hour: int = 0
    server_jobs_per_hour: int = 0
    person_tool_seconds_per_day: int = 0


async def over_quota(
    session: AsyncSession, quotas: Quotas, scope: Scope, now: datetime
) -> str | None:
    """Why the person may not start a job now, with when they may; None when they may."""
    checks = (_person_hour(quotas, scope), _server_hour(quotas, scope), _person_day(quotas, scope))
    for check in checks:
        refused = await check(session, now)
        if refused is not None:
            return refused
    return None


Check = Callable[[AsyncSession, datetime], Awaitable[str | None]]


async def _no_limit(session: AsyncSession, now: datetime) -> None:
    return None


def _person_hour(quotas: Quotas, scope: Scope) -> Check:
    limit = quotas.person_jobs_per_hour

    async def check(session: AsyncSession, now: datetime) -> str | None:
        freed = await _slot_frees_at(session, Job.user_id == scope.user_id, limit, now)
        if freed is None:
            return None
        return f"You have made {_pieces(limit)} in the past hour, the most allowed here; " + (
            again_at(freed, now)
        )

    return check if limit else _no_limit


def _server_hour(quotas: Quotas, scope: Scope) -> Check:
    limit, guild = quotas.server_jobs_per_hour, scope.place.guild_id

    async def check(session: AsyncSession, now: datetime) -> str | None:
        server = and_(Job.guild_id == guild, Job.platform == scope.platform)
        freed = await _slot_frees_at(session, server, limit, now)
        if freed is None:
            return None
        return (
            f"This server has made {_pieces(limit)} in the past hour, the most allowed here; "
            + again_at(freed, now)
        )

    return check if limit and guild else _no_limit


def _person_day(quotas: Quotas, scope: Scope) -> Check:
    limit = quotas.person_tool_seconds_per_day

    async def check(session: AsyncSession, now: datetime) -> str | None:
        spent = await _seconds_free_at(session, Job.user_id == scope.user_id, limit, now)
        if spent is None:
            return None
        used, freed = spent
        return (
            f"Your pieces have used {used:,.0f} s of tool time in the past day, and "
            f"{limit:,} s is the most allowed here; " + again_at(freed, now)
        )

    return check if limit else _no_limit


async def _slot_frees_at(
    session: AsyncSession, whose: ColumnElement[bool], limit: int, now: datetime
) -> datetime | None:
    """When one more job fits in the hour: the `limit`-th newest job ages out then; None when
    fewer than `limit` started in the past hour."""
    query = (
        select(Job.started_at)
        .where(whose, Job.started_at > now - HOUR)
        .order_by(Job.started_at.desc())
        .limit(limit)
    )
    starts = (await session.execute(query)).scalars().all()
    return starts[-1] + HOUR if len(starts) >= limit else None


async def _seconds_free_at(
    session: AsyncSession, whose: ColumnElement[bool], limit: int, now: datetime
) -> tuple[float, datetime] | None:
    """The tool seconds of the past day, and when they drop below `limit` as old jobs age
    out; None when they are below it now."""
    query = (
        select(Job.started_at, Job.tool_seconds)
        .where(whose, Job.started_at > now - DAY)
        .order_by(Job.started_at)
    )
    rows: Sequence[tuple[datetime, float]] = [tuple(r) for r in await session.execute(query)]
    used = left = sum(seconds for _, seconds in rows)
    if used < limit:
        return None
    for started_at, seconds in rows:
        left -= seconds
        if left < limit:
            return used, started_at + DAY
    return used, now + DAY  # not reached: once every job has aged out, nothing is left


def again_at(when: datetime, now: datetime) -> str:
    """'you can ask again at 14:32 UTC (in about 12 min).', to the minute, rounded up."""
    minute = when.replace(second=0, microsecond=0)
    if minute < when:
        minute += timedelta(minutes=1)
    minutes = max(1, math.ceil((minute - now).total_seconds() / 60))
    wait = f"{minutes} min" if minutes < 120 else f"{round(minutes / 60)} h"
    day = "tomorrow " if minute.date() > now.date() else ""
    return f"you can ask again {day}at {minute:%H:%M} UTC (in about {wait})."


def _pieces(count: int) -> str:
    return f"{count} piece" if count == 1 else f"{count} pieces"
