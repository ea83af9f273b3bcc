"""Artifacts: what tools made, numbered #N, kept in a version tree per piece.

A piece's first artifact is its root (root_id NULL); every later version names the version it
was made from (parent_id) and the root, so "the versions of #12" is one indexed query. A piece
made from a piece of another kind (music for a poem, a critique of an image) starts a tree of
its own but names its source as parent_id. People only ever see artifacts of conversations
they belong to; a number that exists elsewhere reads exactly like one that does not exist, so
numbers leak nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from agent.store.db import (
    Artifact,
    ArtifactFile,
    Conversation,
    GroupSession,
    Message,
    SessionMember,
)
from agent.store.media import MediaStore, StoredMedia
from agent.types import MadeArtifact
from tools.contract import MAX_PIECE_NUMBER, PIECE_MENTION, ArtifactDraft

LISTED_CHARS = 120


def mentioned_number(text: str) -> int | None:
    """The first `#N` in a message, if any."""
    match = PIECE_MENTION.search(text)
    return int(match.group(1)) if match else None


def root_of(artifact: Artifact) -> int:
    return artifact.root_id or artifact.id


async def add_artifact(
    session: AsyncSession,
    *,
    conversation_id: int,
    creator_id: int,
    draft: ArtifactDraft,
    prompt: str,
    parent: Artifact | None,
    media: StoredMedia | None,
    files: Mapping[str, StoredMedia] | None = None,
) -> Artifact:
    # Only a piece of the same kind is a new version; another kind, or one the parent was
    # only the source of, is a new piece made from it.
    new_tree = parent is None or parent.kind != draft.kind.value or draft.focus_is_source
    root_id = None if new_tree else root_of(parent)
    artifact = Artifact(
        kind=draft.kind.value,
        conversation_id=conversation_id,
        creator_id=creator_id,
        parent_id=None if parent is None else parent.id,
        root_id=root_id,
        version=1 if root_id is None else await _next_version(session, root_id),
        prompt=prompt,
        params=dict(draft.params),
        text=draft.text,
        media_path=None if media is None else media.path,
        media_sha256=None if media is None else media.sha256,
        mime_type=None if media is None else media.mime_type,
        files=[
            ArtifactFile(name=name, path=f.path, sha256=f.sha256, mime_type=f.mime_type)
            for name, f in (files or {}).items()
        ],
    )
    session.add(artifact)
    # A new piece here: "the latest" is the focus again, wherever /undo had gone back to.
    await session.execute(
        update(Conversation)
        .where(Conversation.id == conversation_id, Conversation.focus_artifact_id.is_not(None))
        .values(focus_artifact_id=None)
    )
    await session.flush()
    return artifact


async def visible_artifact(session: AsyncSession, number: int, user_id: int) -> Artifact | None:
    """Artifact #number if it belongs to one of the user's conversations, or to a group
    session they are in (its shared canvas)."""
    if not 1 <= number <= MAX_PIECE_NUMBER:  # past PostgreSQL's INTEGER: no such piece
        return None
    member = (
        select(SessionMember.id)
        .join(GroupSession, SessionMember.session_id == GroupSession.id)
        .where(
            GroupSession.conversation_id == Conversation.id,
            SessionMember.user_id == user_id,
            SessionMember.left_at.is_(None),
        )
        .exists()
    )
    query = (
        select(Artifact)
        .join(Conversation, Artifact.conversation_id == Conversation.id)
        .where(Artifact.id == number, or_(Conversation.owner_id == user_id, member))
    )
    return (await session.execute(query)).scalar_one_or_none()


async def latest_artifact(session: AsyncSession, conversation_id: int) -> Artifact | None:
    query = (
        select(Artifact)
        .where(Artifact.conversation_id == conversation_id)
        .order_by(Artifact.id.desc())
        .limit(1)
    )
    return (await session.execute(query)).scalar_one_or_none()


async def replied_artifact(
    session: AsyncSession, conversation_id: int, platform_message_id: str
) -> Artifact | None:
    """The artifact shown in the message a person replied to (Discord replies)."""
    query = (
        select(Artifact)
        .join(Message, Message.artifact_id == Artifact.id)
        .where(
            Message.conversation_id == conversation_id,
            Message.platform_message_id == platform_message_id,
        )
        .limit(1)
    )
    return (await session.execute(query)).scalar_one_or_none()


async def version_tree(session: AsyncSession, artifact: Artifact) -> Sequence[Artifact]:
    """Every version of the artifact's piece, oldest first."""
    root = root_of(artifact)
    query = (
        select(Artifact)
        .where(or_(Artifact.id == root, Artifact.root_id == root))
        .order_by(Artifact.id)
    )
    return (await session.execute(query)).scalars().all()


async def newest_pieces(
    session: AsyncSession, user_id: int, limit: int
) -> Sequence[tuple[int, str, str]]:
    """(number, kind, prompt) of the newest pieces in the person's own conversations."""
    query = (
        select(Artifact.id, Artifact.kind, Artifact.prompt)
        .join(Conversation, Artifact.conversation_id == Conversation.id)
        .where(Conversation.owner_id == user_id)
        .order_by(Artifact.id.desc())
        .limit(limit)
    )
    return [(number, kind, prompt) for number, kind, prompt in await session.execute(query)]


async def media_paths(session: AsyncSession, conversation_ids: Sequence[int]) -> set[str]:
    """The files of the artifacts made in these conversations: media and kept files."""
    media = select(Artifact.media_path).where(
        Artifact.conversation_id.in_(conversation_ids), Artifact.media_path.is_not(None)
    )
    kept = (
        select(ArtifactFile.path)
        .join(Artifact, ArtifactFile.artifact_id == Artifact.id)
        .where(Artifact.conversation_id.in_(conversation_ids))
    )
    paths = set((await session.execute(media)).scalars()) | set(
        (await session.execute(kept)).scalars()
    )
    return {path for path in paths if path is not None}


async def unreferenced(session: AsyncSession, paths: set[str]) -> set[str]:
    """Those of `paths` that no artifact points at (identical files are stored once)."""
    if not paths:
        return set()
    media = select(Artifact.media_path).where(Artifact.media_path.in_(paths))
    kept = select(ArtifactFile.path).where(ArtifactFile.path.in_(paths))
    used = set((await session.execute(media)).scalars()) | set(
        (await session.execute(kept)).scalars()
    )
    return paths - used


async def _next_version(session: AsyncSession, root_id: int) -> int:
    query = select(func.max(Artifact.version)).where(
        or_(Artifact.id == root_id, Artifact.root_id == root_id)
    )
    return ((await session.execute(query)).scalar_one_or_none() or 0) + 1


def listing_line(artifact: Artifact) -> str:
    """`#N kind <the first line of its text, or what it was asked as>`: how a piece is listed.
    Never a file's path: the chat model reads these lines, and people are sent them; a
    transport attaches the file itself."""
    lines = (artifact.text or "").strip().splitlines() or [" ".join(artifact.prompt.split())]
    return f"#{artifact.id} {artifact.kind} {lines[0][:LISTED_CHARS]}".rstrip()


def shown_artifact(artifact: Artifact, media: MediaStore) -> MadeArtifact:
    """A stored piece as a Reply shows it: its line, and its files for the transport."""
    return MadeArtifact(
        number=artifact.id,
        kind=artifact.kind,
        line=listing_line(artifact),
        version=artifact.version,
        media_path=None if artifact.media_path is None else media.path(artifact.media_path),
        files={file.name: media.path(file.path) for file in artifact.files},
    )


class ArtifactNotFound(LookupError):
    def __init__(self, number: int) -> None:
        super().__init__(f"I can't find #{number} among the pieces in your conversations.")


async def resolve_focus(
    session: AsyncSession,
    *,
    user_id: int,
    conversation_id: int,
    piece: int | None,
    reply_to: str | None,
) -> Artifact | None:
    """The piece a turn is about: the one replied to, else the one named (`piece`), else the
    one /undo went back to, else the latest.

    Raises ArtifactNotFound for a piece the person cannot see.
    """
    if reply_to is not None:
        replied = await replied_artifact(session, conversation_id, reply_to)
        if replied is not None:
            return replied
    if piece is not None:
        named = await visible_artifact(session, piece, user_id)
        if named is None:
            raise ArtifactNotFound(piece)
        return named
    return await stood_on(session, conversation_id) or await latest_artifact(
        session, conversation_id
    )


async def stood_on(session: AsyncSession, conversation_id: int) -> Artifact | None:
    """The piece /undo made this conversation's focus, while it is still one of its own."""
    query = (
        select(Artifact)
        .join(Conversation, Conversation.focus_artifact_id == Artifact.id)
        .where(Conversation.id == conversation_id, Artifact.conversation_id == conversation_id)
    )
    return (await session.execute(query)).scalar_one_or_none()
