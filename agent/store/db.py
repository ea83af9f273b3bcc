"""The database's typed ORM models and their Base (the engine: engine.py).

The ledger's and the policy's models live with their features (agent/ledger/models.py,
agent/policy/models.py) on this Base. Every schema change goes through an Alembic revision in
migrations/versions; the migrations tests check that these models and the migrations agree.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit id for messages.
BigIntId = BigInteger().with_variant(Integer(), "sqlite")

# Stable constraint names so Alembic batch mode on SQLite can alter tables later.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC and always returns an aware UTC datetime (SQLite drops offsets)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use datetime.now(UTC)")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON()}


class ConversationKind(enum.StrEnum):
    DIRECT = "direct"  # a DM: one user and the bot
    CHANNEL = "channel"  # a user's private thread of talk inside a shared channel
    SESSION = "session"  # a group art session: one conversation shared by its members


class Role(enum.StrEnum):
    USER = "user"
    ASSISTANT = "assistant"
    TOOL = "tool"


class User(Base):
    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("platform", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str] = mapped_column(String(64))
    display_name: Mapped[str] = mapped_column(String(100))
    preferences: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Conversation(Base):
    __tablename__ = "conversations"
    __table_args__ = (
        Index("ix_conversations_place", "platform", "channel_id", "owner_id"),
        # Is a group session on here? Asked on every turn: one seek, however many private
        # conversations a busy channel holds.
        Index("ix_conversations_kind_place", "kind", "platform", "channel_id", "thread_id"),
        Index("ix_conversations_owner_id", "owner_id"),
        # One conversation per person and place: concurrent first messages cannot split a
        # history in two. A DM has no channel, so its NULLs are compared as ''.
        Index(
            "uq_conversations_owner_place",
            "kind",
            "platform",
            "owner_id",
            text("coalesce(channel_id, '')"),
            text("coalesce(thread_id, '')"),
            unique=True,
            sqlite_where=text("owner_id IS NOT NULL"),
            postgresql_where=text("owner_id IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    platform: Mapped[str] = mapped_column(String(32))
    guild_id: Mapped[str | None] = mapped_column(String(64))
    channel_id: Mapped[str | None] = mapped_column(String(64))
    thread_id: Mapped[str | None] = mapped_column(String(64))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    # Rolling summary of the messages up to and including summarized_through (a message id).
    summary: Mapped[str | None] = mapped_column(Text)
    summarized_through: Mapped[int | None] = mapped_column(BigIntId)
    # The piece /undo went back to (agent/undo.py); NULL: the latest. No foreign key, since
    # artifacts already point here; resolve_focus checks it is still this conversation's.
    focus_artifact_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    owner: Mapped[User | None] = relationship()


class Artifact(Base):
    __tablename__ = "artifacts"
    __table_args__ = (
        Index("ix_artifacts_conversation_id", "conversation_id", "id"),
        Index("ix_artifacts_root_id", "root_id"),
        # A person's recently kept pieces: their taste, offered to their next requests.
        Index("ix_artifacts_creator_id_kept_at", "creator_id", "kept_at"),
    )

    # The id is the public number shown to people as #N.
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    creator_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # The version tree of a piece: parent is the version this one was made from, root the first.
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("artifacts.id", ondelete="SET NULL"))
    root_id: Mapped[int | None] = mapped_column(ForeignKey("artifacts.id", ondelete="SET NULL"))
    version: Mapped[int] = mapped_column(default=1)
    prompt: Mapped[str] = mapped_column(Text, default="")
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    text: Mapped[str | None] = mapped_column(Text)
    media_path: Mapped[str | None] = mapped_column(String(255))
    media_sha256: Mapped[str | None] = mapped_column(String(64))
    mime_type: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # When the creator marked it as a favourite (/keep #N); None when not kept.
    kept_at: Mapped[datetime | None] = mapped_column(default=None)
    # Files that belong to the piece without being it (a clip's WAV and preview picture).
    files: Mapped[list[ArtifactFile]] = relationship(
        lazy="selectin", cascade="all, delete-orphan", passive_deletes=True
    )


class ArtifactFile(Base):
    """A named file kept with an artifact, in the same content-addressed media store."""

    __tablename__ = "artifact_files"
    __table_args__ = (
        UniqueConstraint("artifact_id", "name"),
        # Forgetting removes a file only once nothing points at it: looked up by path.
        Index("ix_artifact_files_path", "path"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    artifact_id: Mapped[int] = mapped_column(ForeignKey("artifacts.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(32))
    path: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64))
    mime_type: Mapped[str] = mapped_column(String(100))


class SessionMode(enum.StrEnum):
    FREE = "free"  # anyone asks at any time
    RELAY = "relay"  # members add lines in turn
    ROUNDS = "rounds"  # the host opens rounds; members propose and vote


class SessionState(enum.StrEnum):
    OPEN = "open"
    PAUSED = "paused"  # the host paused it: nothing is made until resumed
    LOCKED = "locked"  # nobody new may join
    ENDED = "ended"


class GroupSession(Base):
    """A group art session: one conversation (kind session) shared by its members, with the
    settings every piece made in it follows."""

    __tablename__ = "group_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), unique=True
    )
    theme: Mapped[str] = mapped_column(String(200))
    # Added to every piece made in the session, and recorded in its params.
    style: Mapped[str | None] = mapped_column(String(300))
    mode: Mapped[str] = mapped_column(String(16), default=SessionMode.FREE)
    turn_minutes: Mapped[int | None] = mapped_column()
    hidden: Mapped[bool] = mapped_column(default=False)  # relay: see only the previous line
    state: Mapped[str] = mapped_column(String(16), default=SessionState.OPEN)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    ends_at: Mapped[datetime | None] = mapped_column(default=None)
    ended_at: Mapped[datetime | None] = mapped_column(default=None)
    # Relay: the form each contribution is judged against (None: free verse), whose turn it
    # is and when that turn passes to the next member, and the poem being written.
    form: Mapped[str | None] = mapped_column(String(32), default=None)
    turn_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    turn_due_at: Mapped[datetime | None] = mapped_column(default=None)
    relay_piece_id: Mapped[int | None] = mapped_column(
        ForeignKey("artifacts.id", ondelete="SET NULL"), default=None
    )
    # Rounds: whether a member may vote for a candidate they proposed.
    self_vote: Mapped[bool] = mapped_column(default=False)

    conversation: Mapped[Conversation] = relationship(lazy="joined")
    members: Mapped[list[SessionMember]] = relationship(
        lazy="selectin", order_by="SessionMember.id", cascade="all, delete-orphan"
    )


class MemberRole(enum.StrEnum):
    HOST = "host"
    MEMBER = "member"


class SessionMember(Base):
    """A person in a session: when they joined and left, and whether their own taste may
    shape the session's pieces (off unless they opt in)."""

    __tablename__ = "session_members"
    __table_args__ = (UniqueConstraint("session_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("group_sessions.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(16), default=MemberRole.MEMBER)
    joined_at: Mapped[datetime] = mapped_column(default=utcnow)
    left_at: Mapped[datetime | None] = mapped_column(default=None)
    taste: Mapped[bool] = mapped_column(default=False)

    user: Mapped[User] = relationship(lazy="selectin")

    @property
    def present(self) -> bool:
        return self.left_at is None


class RoundState(enum.StrEnum):
    OPEN = "open"  # taking candidates and votes
    CLOSED = "closed"


class SessionRound(Base):
    """A rounds-mode round: the host's prompt, the candidates members proposed, their votes,
    the deadline, and the winner that became the canvas."""

    __tablename__ = "session_rounds"
    __table_args__ = (UniqueConstraint("session_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("group_sessions.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column()  # 1, 2, ... within its session
    kind: Mapped[str] = mapped_column(String(16))  # the tool that makes its candidates
    prompt: Mapped[str] = mapped_column(String(500))
    jury: Mapped[bool] = mapped_column(default=False)  # a short critique of each candidate
    state: Mapped[str] = mapped_column(String(16), default=RoundState.OPEN)
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
    closes_at: Mapped[datetime | None] = mapped_column(default=None)
    closed_at: Mapped[datetime | None] = mapped_column(default=None)
    winner_id: Mapped[int | None] = mapped_column(
        ForeignKey("artifacts.id", ondelete="SET NULL"), default=None
    )

    candidates: Mapped[list[RoundCandidate]] = relationship(
        lazy="selectin", order_by="RoundCandidate.id", cascade="all, delete-orphan"
    )
    votes: Mapped[list[RoundVote]] = relationship(
        lazy="selectin", order_by="RoundVote.id", cascade="all, delete-orphan"
    )


class RoundCandidate(Base):
    """A piece proposed in a round; its proposer is the artifact's creator."""

    __tablename__ = "round_candidates"

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("session_rounds.id", ondelete="CASCADE"))
    artifact_id: Mapped[int] = mapped_column(
        ForeignKey("artifacts.id", ondelete="CASCADE"), unique=True
    )

    artifact: Mapped[Artifact] = relationship(lazy="selectin")


class RoundVote(Base):
    """One member's vote in a round: one row per member, changed until the round closes."""

    __tablename__ = "round_votes"
    __table_args__ = (UniqueConstraint("round_id", "voter_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("session_rounds.id", ondelete="CASCADE"))
    voter_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    artifact_id: Mapped[int] = mapped_column(ForeignKey("artifacts.id", ondelete="CASCADE"))
    cast_at: Mapped[datetime] = mapped_column(default=utcnow)


class Message(Base):
    __tablename__ = "messages"
    # The context window reads the newest N of one conversation: this index keeps that
    # independent of how long the history (or the whole table) is.
    __table_args__ = (Index("ix_messages_conversation_id_id", "conversation_id", "id"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    role: Mapped[str] = mapped_column(String(16))
    content: Mapped[str] = mapped_column(Text)
    # Counted once with the chat model's tokenizer when stored, so building a context
    # window never re-tokenizes history.
    token_count: Mapped[int] = mapped_column(default=0)
    tool_name: Mapped[str | None] = mapped_column(String(64))
    tool_call_id: Mapped[str | None] = mapped_column(String(64))
    tool_args: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    artifact_id: Mapped[int | None] = mapped_column(ForeignKey("artifacts.id", ondelete="SET NULL"))
    platform_message_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
