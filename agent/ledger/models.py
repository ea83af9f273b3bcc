"""The job ledger's table: one row per tool run, on the database's Base (agent/store/db.py).

A row keeps enough to store its piece without the turn that asked for it (the conversation,
the piece in focus, the person's words, the tool's Args): a job that ran on a NATS worker
(`remote`) may finish after the bot process that asked was restarted (agent/scaleout/).
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from agent.store.db import Base, utcnow

REQUEST_CHARS = 4000  # what a row keeps of the person's words (the default message limit)
NOTE_CHARS = 200


class JobState(enum.StrEnum):
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    INTERRUPTED = "interrupted"  # still running when its process ended
    CANCELLED = "cancelled"  # stopped by its requester or the session's host (/cancel)


class Job(Base):
    """One tool run: who asked, where, what (a short summary, and what it takes to store its
    piece later), and how it ended."""

    __tablename__ = "jobs"
    __table_args__ = (
        # The quotas count a person's and a server's recent jobs.
        Index("ix_jobs_user_id_started_at", "user_id", "started_at"),
        Index("ix_jobs_guild_id_started_at", "guild_id", "started_at"),
        # At start-up: the jobs left running, and those interrupted but not yet told.
        Index("ix_jobs_state_platform", "state", "platform"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    platform: Mapped[str] = mapped_column(String(32))
    guild_id: Mapped[str | None] = mapped_column(String(64))
    channel_id: Mapped[str | None] = mapped_column(String(64))
    thread_id: Mapped[str | None] = mapped_column(String(64))
    tool: Mapped[str] = mapped_column(String(64))
    summary: Mapped[str] = mapped_column(String(100))
    state: Mapped[str] = mapped_column(String(16), default=JobState.RUNNING)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    tool_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    reported_at: Mapped[datetime | None] = mapped_column(default=None)
    # What storing its piece needs when nobody awaits it any more (agent/scaleout/unclaimed.py).
    conversation_id: Mapped[int | None] = mapped_column(
        ForeignKey("conversations.id", ondelete="SET NULL"), default=None
    )
    focus_id: Mapped[int | None] = mapped_column(
        ForeignKey("artifacts.id", ondelete="SET NULL"), default=None
    )
    request: Mapped[str] = mapped_column(Text, default="")  # the person's words, bounded
    args: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    remote: Mapped[bool] = mapped_column(default=False)  # run by a worker over NATS
    # Its result arrived with nobody waiting (the bot restarted meanwhile): its owner is owed
    # the news, told at their place (reported_at) once a transport is there.
    unclaimed_at: Mapped[datetime | None] = mapped_column(default=None)
    artifact_id: Mapped[int | None] = mapped_column(
        ForeignKey("artifacts.id", ondelete="SET NULL"), default=None
    )
    note: Mapped[str | None] = mapped_column(String(NOTE_CHARS), default=None)  # why: none
