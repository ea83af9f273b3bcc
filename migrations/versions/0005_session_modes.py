"""Session modes: a relay's form, turn and poem on group_sessions; rounds with their
candidates and votes (session_rounds, round_candidates, round_votes).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07 07:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("group_sessions") as batch:
        batch.add_column(sa.Column("form", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("turn_user_id", sa.Integer(), nullable=True))
        batch.add_column(
            sa.Column("turn_due_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch.add_column(sa.Column("relay_piece_id", sa.Integer(), nullable=True))
        batch.add_column(
            sa.Column("self_vote", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.create_foreign_key(
            op.f("fk_group_sessions_turn_user_id_users"),
            "users",
            ["turn_user_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch.create_foreign_key(
            op.f("fk_group_sessions_relay_piece_id_artifacts"),
            "artifacts",
            ["relay_piece_id"],
            ["id"],
            ondelete="SET NULL",
        )
    op.create_table(
        "session_rounds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("prompt", sa.String(length=500), nullable=False),
        sa.Column("jury", sa.Boolean(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closes_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("winner_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["group_sessions.id"],
            name=op.f("fk_session_rounds_session_id_group_sessions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["winner_id"],
            ["artifacts.id"],
            name=op.f("fk_session_rounds_winner_id_artifacts"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_session_rounds")),
        sa.UniqueConstraint("session_id", "number", name=op.f("uq_session_rounds_session_id")),
    )
    op.create_table(
        "round_candidates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("artifact_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["round_id"],
            ["session_rounds.id"],
            name=op.f("fk_round_candidates_round_id_session_rounds"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["artifact_id"],
            ["artifacts.id"],
            name=op.f("fk_round_candidates_artifact_id_artifacts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_round_candidates")),
        sa.UniqueConstraint("artifact_id", name=op.f("uq_round_candidates_artifact_id")),
    )
    op.create_table(
        "round_votes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("voter_id", sa.Integer(), nullable=False),
        sa.Column("artifact_id", sa.Integer(), nullable=False),
        sa.Column("cast_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["round_id"],
            ["session_rounds.id"],
            name=op.f("fk_round_votes_round_id_session_rounds"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["voter_id"],
            ["users.id"],
            name=op.f("fk_round_votes_voter_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["artifact_id"],
            ["artifacts.id"],
            name=op.f("fk_round_votes_artifact_id_artifacts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_round_votes")),
        sa.UniqueConstraint("round_id", "voter_id", name=op.f("uq_round_votes_round_id")),
    )


def downgrade() -> None:
    op.drop_table("round_votes")
    op.drop_table("round_candidates")
    op.drop_table("session_rounds")
    with op.batch_alter_table("group_sessions") as batch:
        batch.drop_constraint(op.f("fk_group_sessions_relay_piece_id_artifacts"), "foreignkey")
        batch.drop_constraint(op.f("fk_group_sessions_turn_user_id_users"), "foreignkey")
        for column in ("self_vote", "relay_piece_id", "turn_due_at", "turn_user_id", "form"):
            batch.drop_column(column)
