"""What an export shows, read from the database in one read transaction and copied into plain
frozen values, so the worker thread that builds the zip never touches the ORM (no lazy load,
no session shared across threads) and sees one consistent moment of the session."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agent.sessions.canvas import FORMER_MEMBER
from agent.store.artifacts import root_of
from agent.store.db import (
    Artifact,
    GroupSession,
    RoundVote,
    SessionRound,
    User,
)
from agent.store.snapshot import hold_one_snapshot


class SessionNotFound(LookupError):
    """No group session has that id."""


@dataclass(frozen=True)
class StoredFile:
    """A file of a piece in the media store: its own media (name None) or a kept file."""

    name: str | None  # None: the piece's media; else the ArtifactFile's name ("preview" ...)
    path: str  # relative to the media store's root
    sha256: str
    mime_type: str


@dataclass(frozen=True)
class SessionFacts:
    theme: str
    mode: str
    style: str | None
    form: str | None
    state: str
    created_at: datetime
    ended_at: datetime | None


@dataclass(frozen=True)
class MemberFacts:
    user_id: int
    name: str
    role: str
    joined_at: datetime
    left_at: datetime | None


@dataclass(frozen=True)
class PieceFacts:
    number: int
    kind: str
    version: int
    parent: int | None
    root: int
    creator_id: int | None  # None: the person was forgotten (a former member)
    contributor: str
    prompt: str
    params: dict[str, Any]
    text: str | None
    created_at: datetime
    files: tuple[StoredFile, ...]  # its media first, then the files kept beside it


@dataclass(frozen=True)
class VoteFacts:
    voter_id: int
    voter: str
    piece: int


@dataclass(frozen=True)
class RoundFacts:
    number: int
    kind: str
    prompt: str
    state: str
    opened_at: datetime
    closes_at: datetime | None
    closed_at: datetime | None
    candidates: tuple[int, ...]
    votes: tuple[VoteFacts, ...]
    winner: int | None


@dataclass(frozen=True)
class Snapshot:
    session: SessionFacts
    members: tuple[MemberFacts, ...]
    pieces: tuple[PieceFacts, ...]  # oldest first
    rounds: tuple[RoundFacts, ...]  # by number


async def read_snapshot(sessions: async_sessionmaker[AsyncSession], group_id: int) -> Snapshot:
    async with sessions() as session, session.begin():
        await hold_one_snapshot(session)
        group = await session.get(GroupSession, group_id)
        if group is None:
            raise SessionNotFound(f"no group session {group_id}")
        return Snapshot(
            _session_facts(group),
            tuple(_member_facts(group)),
            tuple(await _pieces(session, group)),
            tuple(await _rounds(session, group)),
        )


def _session_facts(group: GroupSession) -> SessionFacts:
    return SessionFacts(
        theme=group.theme,
        mode=group.mode,
        style=group.style,
        form=group.form,
        state=group.state,
        created_at=group.created_at,
        ended_at=group.ended_at,
    )


def _member_facts(group: GroupSession) -> list[MemberFacts]:
    return [
        MemberFacts(m.user_id, m.user.display_name, m.role, m.joined_at, m.left_at)
        for m in group.members
    ]


async def _pieces(session: AsyncSession, group: GroupSession) -> list[PieceFacts]:
    query = (
        select(Artifact, User.display_name)
        .outerjoin(User, Artifact.creator_id == User.id)
        .where(Artifact.conversation_id == group.conversation_id)
        .order_by(Artifact.id)
    )
    return [piece_facts(artifact, name) for artifact, name in await session.execute(query)]


def piece_facts(artifact: Artifact, name: str | None) -> PieceFacts:
    """A stored piece as plain values; `name` is its maker's (None once forgotten). The
    personal export (agent/personal_export/) reads pieces so too."""
    return PieceFacts(
        number=artifact.id,
        kind=artifact.kind,
        version=artifact.version,
        parent=artifact.parent_id,
        root=root_of(artifact),
        creator_id=artifact.creator_id,
        contributor=name or FORMER_MEMBER,
        prompt=artifact.prompt,
        params=dict(artifact.params),
        text=artifact.text,
        created_at=artifact.created_at,
        files=tuple(stored_files(artifact)),
    )


def stored_files(artifact: Artifact) -> list[StoredFile]:
    files = []
    if artifact.media_path and artifact.media_sha256:
        mime = artifact.mime_type or "application/octet-stream"
        files.append(StoredFile(None, artifact.media_path, artifact.media_sha256, mime))
    for kept in sorted(artifact.files, key=lambda f: f.name):
        files.append(StoredFile(kept.name, kept.path, kept.sha256, kept.mime_type))
    return files


async def _rounds(session: AsyncSession, group: GroupSession) -> list[RoundFacts]:
    query = select(SessionRound).where(SessionRound.session_id == group.id)
    rounds = (await session.execute(query.order_by(SessionRound.number))).scalars().all()
    votes = await _votes(session, group)
    return [
        RoundFacts(
            number=round_.number,
            kind=round_.kind,
            prompt=round_.prompt,
            state=round_.state,
            opened_at=round_.opened_at,
            closes_at=round_.closes_at,
            closed_at=round_.closed_at,
            candidates=tuple(candidate.artifact_id for candidate in round_.candidates),
            votes=tuple(votes.get(round_.id, ())),
            winner=round_.winner_id,
        )
        for round_ in rounds
    ]


async def _votes(session: AsyncSession, group: GroupSession) -> dict[int, list[VoteFacts]]:
    """Each round's votes with the voter's name (a voter may have left: their name stays)."""
    query = (
        select(RoundVote.round_id, RoundVote.voter_id, User.display_name, RoundVote.artifact_id)
        .join(SessionRound, RoundVote.round_id == SessionRound.id)
        .join(User, RoundVote.voter_id == User.id)
        .where(SessionRound.session_id == group.id)
        .order_by(RoundVote.id)
    )
    votes: dict[int, list[VoteFacts]] = {}
    for round_id, voter_id, name, piece in await session.execute(query):
        votes.setdefault(round_id, []).append(VoteFacts(voter_id, name, piece))
    return votes
