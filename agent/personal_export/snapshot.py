"""What a person's export holds, read in one read transaction and copied into plain frozen
values (the worker thread that builds the zip never touches the ORM).

Their own: every conversation they own (a DM, their private talk in a channel) with all of
it, their words and atelier's answers to them; in a group session, only the messages they
wrote; and every piece they made, wherever they made it. Another person's message is never
read: in a session the query asks for the person's own authorship, not for the conversation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agent.sessions.export.snapshot import PieceFacts, piece_facts
from agent.store.db import (
    Artifact,
    Conversation,
    GroupSession,
    Message,
    Role,
    SessionMember,
)
from agent.store.people import find_user
from agent.store.snapshot import hold_one_snapshot


@dataclass(frozen=True)
class SaidFacts:
    role: str  # user (the person), assistant (atelier) or tool (atelier presenting a piece)
    text: str
    at: datetime
    piece: int | None  # the piece the message presents


@dataclass(frozen=True)
class ConversationFacts:
    number: int  # 1, 2, ... in the export: a database id names nothing to the person
    kind: str
    theme: str | None  # a group session's
    started_at: datetime
    messages: tuple[SaidFacts, ...]


@dataclass(frozen=True)
class OwnPiece:
    facts: PieceFacts
    kept_at: datetime | None  # when they kept it as a favourite (/keep)
    conversation: int | None  # the ConversationFacts.number it was made in


@dataclass(frozen=True)
class PersonSnapshot:
    user_id: int
    name: str
    platform: str
    conversations: tuple[ConversationFacts, ...]
    pieces: tuple[OwnPiece, ...]  # oldest first

    @property
    def empty(self) -> bool:
        return not self.pieces and not any(c.messages for c in self.conversations)


async def read_person(
    sessions: async_sessionmaker[AsyncSession], platform: str, external_id: str
) -> PersonSnapshot | None:
    """The person's own things at one moment; None when atelier has never met them."""
    async with sessions() as session, session.begin():
        await hold_one_snapshot(session)
        user = await find_user(session, platform, external_id)
        if user is None:
            return None
        places = await _conversations(session, user.id)
        numbers = {conversation.id: n for n, (conversation, _) in enumerate(places, 1)}
        said = await _messages(session, user.id, list(numbers))
        pieces = await _pieces(session, user.id, user.display_name, numbers)
        return PersonSnapshot(
            user_id=user.id,
            name=user.display_name,
            platform=platform,
            conversations=tuple(
                ConversationFacts(
                    number=numbers[conversation.id],
                    kind=conversation.kind,
                    theme=theme,
                    started_at=conversation.created_at,
                    messages=tuple(said.get(conversation.id, ())),
                )
                for conversation, theme in places
            ),
            pieces=tuple(pieces),
        )


async def _conversations(
    session: AsyncSession, user_id: int
) -> Sequence[tuple[Conversation, str | None]]:
    """Their own conversations and the group sessions they are or were in, oldest first.
    Only members speak in a session, and leaving keeps the membership row (with left_at), so
    the memberships find every session they wrote in."""
    joined = (
        select(GroupSession.conversation_id)
        .join(SessionMember, SessionMember.session_id == GroupSession.id)
        .where(SessionMember.user_id == user_id)
    )
    query = (
        select(Conversation, GroupSession.theme)
        .outerjoin(GroupSession, GroupSession.conversation_id == Conversation.id)
        .where(or_(Conversation.owner_id == user_id, Conversation.id.in_(joined)))
        .order_by(Conversation.id)
    )
    return [(conversation, theme) for conversation, theme in await session.execute(query)]


async def _messages(
    session: AsyncSession, user_id: int, conversation_ids: list[int]
) -> dict[int, list[SaidFacts]]:
    """By conversation: what the person wrote, and atelier's answers where the conversation
    is theirs alone (in a session atelier answers everyone, so its words stay out)."""
    theirs = or_(
        and_(Message.author_id == user_id, Message.role == Role.USER),
        and_(Conversation.owner_id == user_id, Message.author_id.is_(None)),
    )
    query = (
        select(Message)
        .join(Conversation, Message.conversation_id == Conversation.id)
        .where(Message.conversation_id.in_(conversation_ids), theirs)
        .order_by(Message.id)
    )
    said: dict[int, list[SaidFacts]] = {}
    for message in (await session.execute(query)).scalars():
        facts = SaidFacts(message.role, message.content, message.created_at, message.artifact_id)
        said.setdefault(message.conversation_id, []).append(facts)
    return said


async def _pieces(
    session: AsyncSession, user_id: int, name: str, numbers: dict[int, int]
) -> list[OwnPiece]:
    query = select(Artifact).where(Artifact.creator_id == user_id).order_by(Artifact.id)
    return [
        OwnPiece(
            piece_facts(artifact, name), artifact.kept_at, numbers.get(artifact.conversation_id)
        )
        for artifact in (await session.execute(query)).scalars()
    ]
