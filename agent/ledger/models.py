"""The job ledger's table: one row per tool run, on the database's Base (agent/store/db.py)."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Float, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from agent.store.db import Base, utcnow


class JobState(enum.StrEnum):
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    INTERRUPTED = "interrupted"  # still running when its process ended
    CANCELLED = "cancelled"  # stopped by its requester or the session's host (/cancel)


class Job(Base):
    """One tool run: who asked, where, what (a short summary), and how it ended."""

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
