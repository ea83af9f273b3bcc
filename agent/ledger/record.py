"""Writing the ledger: a job's row before its tool runs, and how the run ended."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import delete, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agent.ledger.models import Job, JobState
from agent.ledger.quotas import Quotas, over_quota
from agent.ledger.summary import job_summary
from agent.ledger.timing import RunClock
from agent.scope import Scope
from agent.store.db import utcnow
from agent.store.retry import DatabaseUnavailable, transaction
from agent.types import Reply
from tools.contract import Tool, ToolArgs

logger = logging.getLogger(__name__)


class JobLedger:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        quotas: Quotas | None = None,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._sessions = sessions
        self._quotas = quotas or Quotas()
        self._clock = clock

    async def start(self, scope: Scope, tool: Tool, args: ToolArgs) -> int | Reply:
        """The new job's id, its row committed before the tool runs (so a kill mid-run leaves
        a trace); or, over a quota, a one-line Reply saying when it resets, nothing written."""
        now, place = self._clock(), scope.place

        async def open_job(session: AsyncSession) -> int | Reply:
            refused = await over_quota(session, self._quotas, scope, now)
            if refused is not None:
                return Reply(refused, stored=False)
            job = Job(
                user_id=scope.user_id,
                platform=scope.platform,
                guild_id=place.guild_id,
                channel_id=place.channel_id,
                thread_id=place.thread_id,
                tool=tool.name,
                summary=job_summary(tool, args),
                state=JobState.RUNNING,
                started_at=now,
            )
            session.add(job)
            await session.flush()
            return job.id

        # A database gone away is one line for the person (DatabaseUnavailable), as for the
        # turn's own transactions; the tool has not started.
        return await transaction(self._sessions, open_job, doing="recording a job")

    async def finish(
        self, job_id: int, *, made: bool, run: RunClock, cancelled: bool = False
    ) -> None:
        """Done when the run made its piece, cancelled when called off (/cancel), else
        failed; a job whose tool never began (refused or called off while in line) is no
        job: its row goes, and no quota counts it. A ledger that cannot be written loses no
        piece: the row stays running, and the next start marks it interrupted."""
        if not run.started:
            change = delete(Job).where(Job.id == job_id)
        else:
            unmade = JobState.CANCELLED if cancelled else JobState.FAILED
            state = JobState.DONE if made else unmade
            change = (
                update(Job)
                .where(Job.id == job_id)
                .values(state=state, finished_at=self._clock(), tool_seconds=run.seconds())
            )

        async def end(session: AsyncSession) -> None:
            await session.execute(change)

        try:
            await transaction(self._sessions, end, doing="recording a job's end")
        except DatabaseUnavailable:  # logged where it happened
            pass
        except SQLAlchemyError as error:
            logger.warning(
                "job %d: its end could not be recorded: %s", job_id, type(error).__name__
            )


async def forget_jobs(session: AsyncSession, user_id: int) -> None:
    """The person's jobs go with the rest of what /forget deletes (so do their quotas' counts)."""
    await session.execute(delete(Job).where(Job.user_id == user_id))
