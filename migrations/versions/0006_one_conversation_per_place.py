"""One conversation per person and place: duplicates (made by a person's concurrent first
messages on SQLite, which had no rule against them) are merged into the oldest, their messages
and pieces kept in order; then a unique index keeps it so.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 07:15:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Conversations of one person at one place (a session's conversation has no owner).
SAME_PLACE = """
    SELECT c.id, k.keep FROM conversations c JOIN (
        SELECT kind, platform, owner_id, coalesce(channel_id, '') AS channel,
               coalesce(thread_id, '') AS thread, min(id) AS keep
        FROM conversations WHERE owner_id IS NOT NULL
        GROUP BY kind, platform, owner_id, coalesce(channel_id, ''), coalesce(thread_id, '')
        HAVING count(*) > 1
    ) k ON c.kind = k.kind AND c.platform = k.platform AND c.owner_id = k.owner_id
       AND coalesce(c.channel_id, '') = k.channel AND coalesce(c.thread_id, '') = k.thread
    WHERE c.id <> k.keep
"""


def upgrade() -> None:
    bind = op.get_bind()
    for duplicate, keep in bind.execute(sa.text(SAME_PLACE)).all():
        moved = {"duplicate": duplicate, "keep": keep}
        for table in ("messages", "artifacts"):
            bind.execute(
                sa.text(
                    f"UPDATE {table} SET conversation_id = :keep WHERE conversation_id = :duplicate"
                ),
                moved,
            )
        # The kept summary no longer covers the merged history: it is rebuilt from messages.
        bind.execute(
            sa.text(
                "UPDATE conversations SET summary = NULL, summarized_through = NULL WHERE id = :keep"
            ),
            moved,
        )
        bind.execute(sa.text("DELETE FROM conversations WHERE id = :duplicate"), moved)
    op.create_index(
        "uq_conversations_owner_place",
        "conversations",
        [
            "kind",
            "platform",
            "owner_id",
            sa.text("coalesce(channel_id, '')"),
            sa.text("coalesce(thread_id, '')"),
        ],
        unique=True,
        sqlite_where=sa.text("owner_id IS NOT NULL"),
        postgresql_where=sa.text("owner_id IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("uq_conversations_owner_place", table_name="conversations")
