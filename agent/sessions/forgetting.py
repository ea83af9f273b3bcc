"""What /forget removes of a person from group sessions: their messages, their votes, their
memberships (a host's place and a relay turn pass on first), and the pieces they made that
nobody else built on (with their place in a round). Pieces others built on stay, their
versions credited to "a former member"; the others' work is theirs to keep.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from agent.sessions.relay import pass_from
from agent.sessions.store import leave
from agent.store.db import (
    Artifact,
    ArtifactFile,
    Conversation,
    ConversationKind,
    GroupSession,
    Message,
    RoundVote,
    SessionMember,
)


@dataclass(frozen=True)
class SessionTraces:
    messages: int
    sessions: int
    media: set[str]  # files of the pieces that went: removed once nothing points at them


async def forget_in_sessions(session: AsyncSession, user_id: int) -> SessionTraces:
    """Remove the person from every group session, inside the caller's transaction."""
    shared = select(Conversation.id).where(Conversation.kind == ConversationKind.SESSION)
    said = (Message.author_id == user_id) & Message.conversation_id.in_(shared)
    messages = (await session.execute(select(func.count()).where(said))).scalar_one()
    await session.execute(delete(Message).where(said))
    await session.execute(delete(RoundVote).where(RoundVote.voter_id == user_id))
    sessions = await _leave_every_session(session, user_id)
    media = await _remove_unshared_pieces(session, user_id, shared)
    return SessionTraces(messages, sessions, media)


async def _leave_every_session(session: AsyncSession, user_id: int) -> int:
    query = select(GroupSession).join(SessionMember).where(SessionMember.user_id == user_id)
    groups = list((await session.execute(query)).scalars().unique())
    for group in groups:
        mine = next(member for member in group.members if member.user_id == user_id)
        if mine.present:
            leave(group, mine)  # a host hands over to the longest-standing member
        pass_from(group, user_id)  # a relay goes on with the next member
        group.members.remove(mine)
    await session.flush()
    return len(groups)


async def _remove_unshared_pieces(
    session: AsyncSession, user_id: int, shared: Select[tuple[int]]
) -> set[str]:
    """Their session pieces nobody else built on go; the rest lose their name. Returns the
    files of every piece of theirs, for the caller to remove those nothing points at now."""
    theirs = (Artifact.creator_id == user_id) & Artifact.conversation_id.in_(shared)
    media = select(Artifact.media_path).where(theirs, Artifact.media_path.is_not(None))
    kept = select(ArtifactFile.path).join(Artifact).where(theirs)
    paths = set((await session.execute(media)).scalars()) | set(
        (await session.execute(kept)).scalars()
    )
    other = aliased(Artifact)
    built_on = (
        select(other.id)
        .where(
            (other.parent_id == Artifact.id) | (other.root_id == Artifact.id),
            other.creator_id.is_distinct_from(user_id),
        )
        .exists()
    )
    await session.execute(delete(Artifact).where(theirs, ~built_on))
    await session.execute(update(Artifact).where(theirs).values(creator_id=None))
    return {path for path in paths if path}
