"""Artifacts a person keeps (/keep #N): artifacts.kept_at, indexed per creator.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 12:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("artifacts") as batch:
        batch.add_column(sa.Column("kept_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_index("ix_artifacts_creator_id_kept_at", ["creator_id", "kept_at"])


def downgrade() -> None:
    with op.batch_alter_table("artifacts") as batch:
        batch.drop_index("ix_artifacts_creator_id_kept_at")
        batch.drop_column("kept_at")
