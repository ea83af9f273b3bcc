"""The job ledger keeps what storing a job's piece needs without its turn: the conversation,
the piece in focus, the person's words and the tool's Args; whether a NATS worker ran it
(remote); and, for a result that arrived with nobody waiting (the bot restarted), when it came,
the piece it made or why it made none, so its owner can be told.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 15:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = (
    "note",
    "artifact_id",
    "unclaimed_at",
    "remote",
    "args",
    "request",
    "focus_id",
    "conversation_id",
)


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("conversation_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("focus_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("request", sa.Text(), nullable=False, server_default=""))
        batch.add_column(sa.Column("args", sa.JSON(), nullable=True))
        batch.add_column(
            sa.Column("remote", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(sa.Column("unclaimed_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("artifact_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("note", sa.String(length=200), nullable=True))
        for column, table in (
            ("conversation_id", "conversations"),
            ("focus_id", "artifacts"),
            ("artifact_id", "artifacts"),
        ):
            batch.create_foreign_key(
                op.f(f"fk_jobs_{column}_{table}"), table, [column], ["id"], ondelete="SET NULL"
            )


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_constraint(op.f("fk_jobs_artifact_id_artifacts"), "foreignkey")
        batch.drop_constraint(op.f("fk_jobs_focus_id_artifacts"), "foreignkey")
        batch.drop_constraint(op.f("fk_jobs_conversation_id_conversations"), "foreignkey")
        for column in COLUMNS:
            batch.drop_column(column)
