"""Server policy: server_policies (one row of /settings per server: channels, who presses
buttons, the server's blocklist, unfiltered images in age-restricted channels, blocked people)
and policy_changes (the audit: who changed which setting, its old and new value, when).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 12:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "server_policies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(length=32), nullable=False),
        sa.Column("guild_id", sa.String(length=64), nullable=False),
        sa.Column("channels", sa.JSON(), nullable=False),
        sa.Column("buttons", sa.String(length=16), nullable=True),
        sa.Column("blocklist", sa.JSON(), nullable=False),
        sa.Column("nsfw", sa.Boolean(), nullable=False),
        sa.Column("blocked_users", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_server_policies")),
        sa.UniqueConstraint("platform", "guild_id", name=op.f("uq_server_policies_platform")),
    )
    op.create_table(
        "policy_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(length=32), nullable=False),
        sa.Column("guild_id", sa.String(length=64), nullable=False),
        sa.Column("actor_id", sa.String(length=64), nullable=False),
        sa.Column("actor_name", sa.String(length=100), nullable=False),
        sa.Column("setting", sa.String(length=32), nullable=False),
        sa.Column("old", sa.JSON(), nullable=True),
        sa.Column("new", sa.JSON(), nullable=True),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_policy_changes")),
    )
    op.create_index("ix_policy_changes_place", "policy_changes", ["platform", "guild_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_policy_changes_place", table_name="policy_changes")
    op.drop_table("policy_changes")
    op.drop_table("server_policies")
