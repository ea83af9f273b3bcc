"""A server's /settings and their audit, on the database's Base (agent/store/db.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from agent.store.db import Base, utcnow


class ServerPolicy(Base):
    """A server's /settings (agent/policy/): the channels atelier answers in (none listed:
    all), who may press a piece's buttons (None: the operator's default), words refused on
    top of the operator's blocklist, unfiltered images in age-restricted channels, and the
    people atelier ignores there. Lists are replaced whole, never changed in place."""

    __tablename__ = "server_policies"
    __table_args__ = (UniqueConstraint("platform", "guild_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(String(32))
    guild_id: Mapped[str] = mapped_column(String(64))
    channels: Mapped[list[str]] = mapped_column(JSON, default=list)
    buttons: Mapped[str | None] = mapped_column(String(16), default=None)
    blocklist: Mapped[list[str]] = mapped_column(JSON, default=list)
    nsfw: Mapped[bool] = mapped_column(default=False)
    blocked_users: Mapped[list[str]] = mapped_column(JSON, default=list)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class PolicyChange(Base):
    """One change of a server's settings: who made it, which setting, its old and new value,
    when. Kept by platform ids and names, not users rows, so /forget leaves the audit whole."""

    __tablename__ = "policy_changes"
    __table_args__ = (Index("ix_policy_changes_place", "platform", "guild_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(String(32))
    guild_id: Mapped[str] = mapped_column(String(64))
    actor_id: Mapped[str] = mapped_column(String(64))
    actor_name: Mapped[str] = mapped_column(String(100))
    setting: Mapped[str] = mapped_column(String(32))
    old: Mapped[Any] = mapped_column(JSON, nullable=True)
    new: Mapped[Any] = mapped_column(JSON, nullable=True)
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)
