"""Results that arrived with nobody waiting for them (the bot restarted while their job ran on
a worker), told to their owners at their place: the piece attached, or why nothing was made.

A row is owed the news when its result was handled unclaimed (`unclaimed_at`) and not yet told
(`reported_at`). Each is told at most once: its reported_at is set by a conditional UPDATE
before the announcement, so a delivery and a start-up, or two bot processes, never both tell
one (one whose announcement fails is logged, not retried, as for interrupted jobs). Rows whose
platform has no transport yet wait for it: they are told when it starts (`announce_with`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agent.boundary import excerpt
from agent.ledger.interrupted import job_place
from agent.ledger.models import Job, JobState
from agent.ledger.summary import QUOTED_CHARS
from agent.store.artifacts import shown_artifact
from agent.store.db import Artifact, User, utcnow
from agent.store.media import MediaStore
from agent.types import Announce, Place, Reply

logger = logging.getLogger(__name__)

# The database not answering, said in the log: the row stays owed, told at the next chance.
FAULTS = (SQLAlchemyError, ConnectionError, TimeoutError)


@dataclass(frozen=True)
class Late:
    """One job whose result came while atelier was restarting, as its owner is told of it."""

    job_id: int
    place: Place
    owner: str
    tool: str
    summary: str
    state: str
    note: str | None
    piece: Artifact | None  # what it made (None: nothing, or forgotten since)

    def reply(self, media: MediaStore) -> Reply | None:
        """The announcement; None when it made a piece that is gone by now (forgotten)."""
        asked = f" ('{excerpt(self.summary, QUOTED_CHARS)}')" if self.summary else ""
        yours = f"{self.owner}, your {self.tool}{asked}"
        if self.state == JobState.DONE:
            if self.piece is None:
                return None
            return Reply(
                f"{yours} finished while atelier was restarting: #{self.piece.id}",
                artifacts=(shown_artifact(self.piece, media),),
            )
        if self.state == JobState.CANCELLED:
            return Reply(f"{yours} was cancelled; nothing was stored.", stored=False)
        why = excerpt(self.note or "it stopped on its worker", 200).rstrip(".")
        return Reply(f"{yours} failed: {why}; nothing was stored.", stored=False)


class OwedReports:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], media: MediaStore) -> None:
        self._sessions = sessions
        self._media = media
        self._announcers: dict[str, Announce] = {}  # the transports up now, by platform

    async def announce_with(self, platform: str, announce: Announce) -> int:
        """How to speak at `platform`'s places, from now on (its transport started): the late
        results owed there are told now. Returns how many."""
        self._announcers[platform] = announce
        return await self.tell(platform)

    async def tell(self, platform: str) -> int:
        """Tell each owner of a late result of `platform` at its place, once; nothing while
        the platform has no transport. Returns how many were told."""
        announce = self._announcers.get(platform)
        if announce is None:
            return 0
        try:
            owed = await self._owed(platform)
        except FAULTS as error:  # a background task: nobody to answer but the log
            logger.warning("late results of %s could not be read (%s)", platform, error)
            return 0
        told = 0
        for late in owed:
            if await self._tell_one(late, announce):
                told += 1
        return told

    async def _tell_one(self, late: Late, announce: Announce) -> bool:
        try:
            if not await self._claim(late.job_id):
                return False  # told by another meanwhile
        except FAULTS as error:
            logger.warning("job %d: its late result could not be claimed (%s)", late.job_id, error)
            return False
        reply = late.reply(self._media)
        if reply is None:
            return False
        try:
            await announce(late.place, reply)
        except Exception as error:  # noqa: BLE001 - a place gone or unreachable: the rest go on
            logger.warning("telling of job %d's late result failed: %r", late.job_id, error)
            return False
        return True

    async def _owed(self, platform: str) -> list[Late]:
        query = (
            select(Job, User.display_name, Artifact)
            .join(User, Job.user_id == User.id)
            .outerjoin(Artifact, Job.artifact_id == Artifact.id)
            .where(
                Job.platform == platform,
                Job.state.in_((JobState.DONE, JobState.FAILED, JobState.CANCELLED)),
                Job.unclaimed_at.is_not(None),
                Job.reported_at.is_(None),
            )
            .order_by(Job.id)
        )
        async with self._sessions() as session:
            rows = (await session.execute(query)).all()
        return [
            Late(job.id, job_place(job), name, job.tool, job.summary, job.state, job.note, piece)
            for job, name, piece in rows
        ]

    async def _claim(self, job_id: int) -> bool:
        claim = (
            update(Job)
            .where(Job.id == job_id, Job.reported_at.is_(None))
            .values(reported_at=utcnow())
        )
        async with self._sessions() as session, session.begin():
            return (await session.execute(claim)).rowcount == 1
