"""Writing the ledger: a job's row before its tool runs, and how the run ended."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Executable, delete, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agent.ledger.claim import GONE
from agent.ledger.models import REQUEST_CHARS, Job, JobState
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
        remote: bool = False,
    ) -> None:
        self._sessions = sessions
        self._quotas = quotas or Quotas()
        self._clock = clock
        self._remote = remote  # the tools run on NATS workers (ATELIER_JOBS=nats://...)

    async def start(
        self,
        scope: Scope,
        tool: Tool,
        args: ToolArgs,
        *,
        focus_id: int | None = None,
        said: str | None = None,
    ) -> int | Reply:
        """The new job's id, its row committed before the tool runs (so a kill mid-run leaves
        a trace), with what storing its piece takes without this turn (the conversation, the
        piece in focus, the person's words, the Args); or, over a quota, a one-line Reply
        saying when it resets, nothing written."""
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
                conversation_id=scope.conversation_id,
                focus_id=focus_id,
                request=(said or "")[:REQUEST_CHARS],
                args=args.model_dump(mode="json", exclude_none=True),
                remote=self._remote,
            )
            session.add(job)
            await session.flush()
            return job.id

        # A database gone away is one line for the person (DatabaseUnavailable), as for the
        # turn's own transactions; the tool has not started.
        try:
            return await transaction(self._sessions, open_job, doing="recording a job")
        except IntegrityError:  # the conversation, or the piece in focus, went meanwhile
            return Reply(GONE, stored=False)

    async def finish(self, job_id: int, *, run: RunClock, cancelled: bool = False) -> None:
        """A run that made no piece: cancelled when called off (/cancel), else failed; a job
        whose tool never began (refused or called off while in line) is no job: its row goes,
        and no quota counts it. A run that made its piece is done once the piece is stored, in
        that transaction (claim.py), or failed if it never is (Studio.discard). Only a running
        row changes: one stored, or reported, by another process stays as it is. A ledger that
        cannot be written loses no piece: the row stays running, and the next start marks it
        interrupted."""
        running = (Job.id == job_id, Job.state == JobState.RUNNING)
        if not run.started:
            change = delete(Job).where(*running)
        else:
            state = JobState.CANCELLED if cancelled else JobState.FAILED
            change = (
                update(Job)
                .where(*running)
                .values(state=state, finished_at=self._clock(), tool_seconds=run.seconds())
            )
        await self._end(job_id, change)

    async def unstored(self, job_id: int, *, tool_seconds: float) -> None:
        """A run that made its piece, which was never stored (its conversation forgotten
        meanwhile, the store failed): failed, if still running."""
        change = (
            update(Job)
            .where(Job.id == job_id, Job.state == JobState.RUNNING)
            .values(state=JobState.FAILED, finished_at=self._clock(), tool_seconds=tool_seconds)
        )
        await self._end(job_id, change)

    async def _end(self, job_id: int, change: Executable) -> None:
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
