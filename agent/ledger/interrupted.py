"""After a crash: the jobs an earlier process left running, marked interrupted at start-up and
told to their owners, at their place, once the platform's transport is back.

One bot process per database is assumed (the embedded default, as for the media sweep): at
start every running row is an earlier process's, since this one has run nothing yet. Several
processes sharing a database would mark each other's live jobs; scaling out changes this.
With ATELIER_JOBS=nats a job run by a worker (`remote`) may still finish: its result waits in
NATS for the bot to come back (agent/scaleout/unclaimed.py), so such a row stays running,
until it has waited longer than `remote_patience` without a result
(ATELIER_JOBS_REMOTE_PATIENCE_S).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import and_, or_, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agent.boundary import excerpt
from agent.ledger.models import Job, JobState
from agent.ledger.summary import QUOTED_CHARS
from agent.store.db import User, utcnow
from agent.types import Announce, Place, Reply

logger = logging.getLogger(__name__)


async def mark_interrupted(
    sessions: async_sessionmaker[AsyncSession], *, remote_patience: timedelta | None = None
) -> int:
    """Every job still running becomes interrupted; call before the first turn runs. With
    `remote_patience` (the jobs go to NATS workers) a remote job started within it is left
    running: its result may still come. Returns how many."""
    now = utcnow()
    gone = Job.state == JobState.RUNNING
    if remote_patience is not None:
        gone = and_(gone, or_(Job.remote.is_(False), Job.started_at < now - remote_patience))
    async with sessions() as session, session.begin():
        result = await session.execute(
            update(Job).where(gone).values(state=JobState.INTERRUPTED, finished_at=now)
        )
    count = result.rowcount or 0
    if count:
        logger.info("%d jobs were interrupted by an earlier stop; their owners will be told", count)
    return count


@dataclass(frozen=True)
class Interrupted:
    """One interrupted job, as its owner is told of it."""

    place: Place
    owner: str  # their display name
    tool: str
    summary: str

    @property
    def reply(self) -> Reply:
        asked = f" ('{excerpt(self.summary, QUOTED_CHARS)}')" if self.summary else ""
        return Reply(
            f"{self.owner}, your {self.tool}{asked} was interrupted when atelier stopped; "
            "nothing was stored. Ask again when you like.",
            stored=False,
        )


class InterruptedReports:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def announce(self, platform: str, announce: Announce) -> int:
        """Tell each owner of an unreported interrupted job of `platform`, at its place; the
        jobs are marked reported first, so no restart says it twice (at most once: one whose
        announcement fails is logged, not retried). Returns how many were told."""
        try:
            claimed = await self._claim(platform)
        except SQLAlchemyError as error:  # a background task: nobody to answer but the log
            logger.warning(
                "the interrupted jobs of %s could not be read (%s)", platform, type(error).__name__
            )
            return 0
        told = 0
        for job in claimed:
            try:
                await announce(job.place, job.reply)
            except Exception as error:  # noqa: BLE001 - a place gone or unreachable: the rest go on
                logger.warning(
                    "telling of an interrupted %s at %s failed: %r", job.tool, job.place, error
                )
                continue
            told += 1
        return told

    async def _claim(self, platform: str) -> list[Interrupted]:
        query = (
            select(Job, User.display_name)
            .join(User, Job.user_id == User.id)
            .where(
                Job.state == JobState.INTERRUPTED,
                Job.platform == platform,
                Job.reported_at.is_(None),
            )
            .order_by(Job.id)
        )
        async with self._sessions() as session, session.begin():
            rows = (await session.execute(query)).all()
            now = utcnow()
            for job, _ in rows:
                job.reported_at = now
        return [Interrupted(job_place(job), name, job.tool, job.summary) for job, name in rows]


def job_place(job: Job) -> Place:
    """Where a job was asked for, as a transport reaches it."""
    return Place(
        channel_id=job.channel_id,
        guild_id=job.guild_id,
        thread_id=job.thread_id,
        is_direct=job.guild_id is None,
    )
