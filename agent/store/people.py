"""People and their conversations, found or created (agent/scope.py resolves a turn's whole
scope with these, once).

In a DM, and in a shared channel, every user has a private conversation: one person's
messages never reach another person's context. (Group sessions, shared by their members,
arrive with the sessions feature.)
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from agent.store.db import Conversation, ConversationKind, User
from agent.types import Place, UserRef


async def find_or_create_user(session: AsyncSession, platform: str, ref: UserRef) -> User:
    user = await find_user(session, platform, ref.external_id)
    if user is None:
        user = await _insert_user(session, platform, ref)
    elif user.display_name != ref.display_name:
        user.display_name = ref.display_name
    return user


async def find_user(session: AsyncSession, platform: str, external_id: str) -> User | None:
    query = select(User).where(User.platform == platform, User.external_id == external_id)
    return (await session.execute(query)).scalar_one_or_none()


async def _insert_user(session: AsyncSession, platform: str, ref: UserRef) -> User:
    user = User(platform=platform, external_id=ref.external_id, display_name=ref.display_name)
    try:
        # A savepoint: if another turn of the same new user won the race, keep its row.
        async with session.begin_nested():
            session.add(user)
    except IntegrityError:
        found = await find_user(session, platform, ref.external_id)
        if found is None:
            raise
        return found
    return user


async def find_conversation(
    session: AsyncSession, platform: str, user: User, place: Place
) -> Conversation | None:
    query = select(Conversation).where(
        Conversation.platform == platform,
        Conversation.kind == conversation_kind(place),
        Conversation.owner_id == user.id,
        same_or_null(Conversation.channel_id, place.channel_id),
        same_or_null(Conversation.thread_id, place.thread_id),
    )
    return (await session.execute(query.limit(1))).scalar_one_or_none()


async def find_or_create_conversation(
    session: AsyncSession, platform: str, user: User, place: Place
) -> Conversation:
    conversation = await find_conversation(session, platform, user, place)
    return conversation or await create_conversation(session, platform, user, place)


async def create_conversation(
    session: AsyncSession, platform: str, user: User, place: Place
) -> Conversation:
    """The person's own conversation at `place`, new."""
    conversation = Conversation(
        kind=conversation_kind(place),
        platform=platform,
        guild_id=place.guild_id,
        channel_id=place.channel_id,
        thread_id=place.thread_id,
        owner_id=user.id,
    )
    try:
        # A savepoint: if the person's other message here created it first (the database
        # allows one per person and place), that one is theirs.
        async with session.begin_nested():
            session.add(conversation)
    except IntegrityError:
        found = await find_conversation(session, platform, user, place)
        if found is None:
            raise
        return found
    return conversation


def conversation_kind(place: Place) -> ConversationKind:
    return ConversationKind.DIRECT if place.is_direct else ConversationKind.CHANNEL


def same_or_null(
    column: InstrumentedAttribute[str | None], value: str | None
) -> ColumnElement[bool]:
    """`column = value`, or `column IS NULL` when there is no value (a DM has no guild). An
    empty id is no value, as the unique rule on a person's place has it."""
    return column == value if value else column.is_(None)
