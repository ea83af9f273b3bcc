"""A result nobody in this bot process awaits (it was restarted while the job ran on a worker):
stored, or its failure recorded, exactly once, and told to its owner at their place.

The job's ledger row holds what the turn would have given (the conversation, the piece in
focus, the person's words, the Args), so the piece is stored as the turn would have stored it:
the person's message, the piece, the line that presents it. The row's flip from running
(agent/ledger/claim.py) is in the same transaction: a result stored already by the turn that
awaited it, redelivered by NATS, or handled by another bot process stores nothing more, and a
job reported interrupted meanwhile stays so. The owner is told by agent/ledger/owed.py, now if
their platform's transport is up, else when it starts.

A database that does not answer raises (DatabaseUnavailable), so the runner leaves the result
unacknowledged and NATS delivers it again later.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agent.ledger.claim import claim_for_storing, close_unmade
from agent.ledger.models import Job, JobState
from agent.ledger.owed import OwedReports
from agent.making.files import StoredFiles, discard_files, write_files
from agent.making.studio import seen_by_the_model
from agent.scaleout.envelope import Outcome, ResultEnvelope
from agent.store.artifacts import add_artifact
from agent.store.db import Artifact, GroupSession, Role, utcnow
from agent.store.media import MediaCorrupted, MediaStore
from agent.store.memory import Memory, MessageDraft
from agent.store.retry import CommitUncertain, transaction
from agent.types import Announce
from tools.contract import MAX_PIECE_NUMBER, ArtifactDraft, Tool

logger = logging.getLogger(__name__)

UNREADABLE = "its files could not be read back from the worker"
STOPPED = "it stopped on its worker"


class DraftSource(Protocol):
    """Where an unclaimed result's draft gets its bytes (agent/scaleout/runner.py)."""

    async def draft_of(self, result: ResultEnvelope) -> ArtifactDraft | None: ...


@dataclass(frozen=True)
class _Gone:
    """Nothing to store into: the conversation was forgotten while the job ran."""


@dataclass(frozen=True)
class _Taken:
    """The row had left running: stored, or reported, by another."""

    state: str


class UnclaimedResults:
    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        memory: Memory,
        media: MediaStore,
        tools: Mapping[str, Tool],
    ) -> None:
        self._sessions = sessions
        self._memory = memory
        self._media = media
        self._tools = tools
        self._owed = OwedReports(sessions, media)

    async def announce_with(self, platform: str, announce: Announce) -> int:
        """How to tell owners at `platform`'s places (its transport started; call it where
        the agent is told so): the late results owed there are told now, later ones as they
        come. Returns how many were told now."""
        return await self._owed.announce_with(platform, announce)

    async def deliver(
        self,
        job_id: int,
        draft: ArtifactDraft | None,
        outcome: Outcome,
        message: str | None,
        *,
        tool_seconds: float = 0.0,
    ) -> bool:
        """Store the job's piece (outcome made) or close it as failed or cancelled, and tell
        its owner. False, doing nothing, when its row is not running any more (stored,
        reported) or is none of this database's (a run without a ledger row)."""
        job = await self._running_job(job_id)
        if job is None:
            logger.info("job %d's result came again, or was not awaited: dropped", job_id)
            return False
        if outcome == "made" and draft is not None:
            done = await self._store(job, draft, tool_seconds)
        else:
            why = message or (UNREADABLE if outcome == "made" else STOPPED)
            done = await self._close(job, outcome, why, tool_seconds)
        if done:
            await self._owed.tell(job.platform)
        return done

    async def _running_job(self, job_id: int) -> Job | None:
        if not 1 <= job_id <= MAX_PIECE_NUMBER:  # a minted id: no row (and past INTEGER)
            return None
        async with self._sessions() as session:
            job = await session.get(Job, job_id)
        return job if job is not None and job.state == JobState.RUNNING else None

    async def _close(self, job: Job, outcome: Outcome, why: str, tool_seconds: float) -> bool:
        state = JobState.CANCELLED if outcome == "cancelled" else JobState.FAILED

        async def close(session: AsyncSession) -> bool:
            return await close_unmade(
                session, job.id, state=state, note=why, now=utcnow(), tool_seconds=tool_seconds
            )

        return await transaction(self._sessions, close, doing="recording a late job's end")

    async def _store(self, job: Job, draft: ArtifactDraft, tool_seconds: float) -> bool:
        drafts = (draft, *draft.parts)
        files = await write_files(self._media, drafts)
        messages = self._messages(job, draft)

        async def store(session: AsyncSession) -> list[Artifact] | _Gone | _Taken:
            return await self._store_in(session, job, drafts, files, messages, tool_seconds)

        try:
            stored = await transaction(self._sessions, store, doing="storing a late piece")
        except IntegrityError:  # the conversation (or the piece built on) went meanwhile
            stored = _Gone()
        except CommitUncertain:  # the piece may be stored, and a piece needs its files
            raise
        except BaseException:
            await discard_files(self._media, files)
            raise
        if isinstance(stored, list):
            return True
        if not (isinstance(stored, _Taken) and stored.state == JobState.DONE):
            await discard_files(self._media, files)  # else maybe the stored piece's own files
        if isinstance(stored, _Gone):
            return await self._forgotten(job.id)
        return False

    async def _store_in(
        self,
        session: AsyncSession,
        job: Job,
        drafts: Sequence[ArtifactDraft],
        files: Sequence[StoredFiles],
        messages: tuple[MessageDraft | None, MessageDraft],
        tool_seconds: float,
    ) -> list[Artifact] | _Gone | _Taken:
        # The flip first: the row's lock (SQLite's write lock) before anything is read.
        state = await claim_for_storing(
            session, job.id, now=utcnow(), tool_seconds=tool_seconds, unclaimed=True
        )
        if state is not None:
            await session.rollback()
            return _Taken(state)
        if job.conversation_id is None:
            await session.rollback()
            return _Gone()
        focus = None if job.focus_id is None else await session.get(Artifact, job.focus_id)
        style = await session.scalar(
            select(GroupSession.style).where(GroupSession.conversation_id == job.conversation_id)
        )
        pieces = [
            await add_artifact(
                session,
                conversation_id=job.conversation_id,
                creator_id=job.user_id,
                draft=_with_style(one, style),
                prompt=self._prompt_of(job),
                parent=focus if one.from_focus else None,
                media=stored.media,
                files=stored.named,
            )
            for one, stored in zip(drafts, files, strict=True)
        ]
        await session.execute(update(Job).where(Job.id == job.id).values(artifact_id=pieces[0].id))
        person, line = messages
        said = (person,) if person is not None else ()
        presented = replace(line, artifact_id=pieces[0].id)
        if not await self._memory.append(session, job.conversation_id, *said, presented):
            await session.rollback()
            return _Gone()
        return pieces

    def _messages(self, job: Job, draft: ArtifactDraft) -> tuple[MessageDraft | None, MessageDraft]:
        """The person's message and the line presenting the piece, as the turn would have
        stored them (counted before the transaction opens)."""
        person = (
            self._memory.draft(Role.USER, job.request, author_id=job.user_id)
            if job.request
            else None
        )
        line = self._memory.draft(
            Role.ASSISTANT, seen_by_the_model(draft), tool_name=job.tool, tool_args=job.args
        )
        return person, line

    def _prompt_of(self, job: Job) -> str:
        """What the piece was asked as: the tool's text argument, else the person's words."""
        tool = self._tools.get(job.tool)
        text_arg = None if tool is None else tool.text_arg
        value = (job.args or {}).get(text_arg) if text_arg else None
        return str(value) if value else job.request

    async def _forgotten(self, job_id: int) -> bool:
        """Its conversation is gone: the job failed, and nobody is told (they forgot it)."""

        async def close(session: AsyncSession) -> None:
            await session.execute(
                update(Job)
                .where(Job.id == job_id, Job.state == JobState.RUNNING)
                .values(state=JobState.FAILED, finished_at=utcnow(), reported_at=utcnow())
            )

        await transaction(self._sessions, close, doing="recording a late job's end")
        return False


def _with_style(draft: ArtifactDraft, style: str | None) -> ArtifactDraft:
    """A piece made in a group session records the shared style it followed."""
    if style is None:
        return draft
    return replace(draft, params={**draft.params, "session_style": style})


OnUnclaimed = Callable[[ResultEnvelope], Awaitable[None]]


def on_unclaimed(results: UnclaimedResults, source: DraftSource) -> OnUnclaimed:
    """The runner's callback (agent/scaleout/results.py): the result's draft with its bytes,
    then `deliver`. Bytes that can never be read (damaged, or gone) close the job as failed;
    anything else raised leaves the result to come again."""

    async def handle(result: ResultEnvelope) -> None:
        try:
            draft = await source.draft_of(result)
        except MediaCorrupted as damaged:
            logger.warning("job %d's result: %s", result.job_id, damaged)
            draft = None
        await results.deliver(
            result.job_id,
            draft,
            result.outcome,
            result.message,
            tool_seconds=result.tool_seconds,
        )

    return handle
