"""The job ledger: one row per tool run (who, where, which tool, a short summary of what was
asked, its state, when it started and finished, its tool seconds, when an interruption was
reported), for quotas and for telling people after a crash that their job was interrupted.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 12:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(length=32), nullable=False),
        sa.Column("guild_id", sa.String(length=64), nullable=True),
        sa.Column("channel_id", sa.String(length=64), nullable=True),
        sa.Column("thread_id", sa.String(length=64), nullable=True),
        sa.Column("tool", sa.String(length=64), nullable=False),
        sa.Column("summary", sa.String(length=100), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("tool_seconds", sa.Float(), nullable=False),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_jobs_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
    )
    op.create_index("ix_jobs_user_id_started_at", "jobs", ["user_id", "started_at"])
    op.create_index("ix_jobs_guild_id_started_at", "jobs", ["guild_id", "started_at"])
    op.create_index("ix_jobs_state_platform", "jobs", ["state", "platform"])


def downgrade() -> None:
    op.drop_index("ix_jobs_state_platform", table_name="jobs")
    op.drop_index("ix_jobs_guild_id_started_at", table_name="jobs")
    op.drop_index("ix_jobs_user_id_started_at", table_name="jobs")
    op.drop_table("jobs")
