"""A conversation remembers the piece it stands on once /undo moved it back
(conversations.focus_artifact_id); NULL means "the latest", as before.

No foreign key: conversations and artifacts would then point at each other, and every
reader checks the piece is still visible in that conversation anyway (resolve_focus).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 19:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Never a copy of the table on SQLite (its ALTER TABLE adds and drops a column since 3.35):
# a copy would lose the unique index on coalesce(channel_id, ''), which 0006 made.


def upgrade() -> None:
    with op.batch_alter_table("conversations", recreate="never") as batch:
        batch.add_column(sa.Column("focus_artifact_id", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("conversations", recreate="never") as batch:
        batch.drop_column("focus_artifact_id")
