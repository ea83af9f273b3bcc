"""Group sessions in the database: the session at a place, its members, starting and joining.

A session is one conversation of kind `session` at its place (a Discord thread, or a console
channel), shared by its members; it has no owner. While it has not ended, every turn at that
place belongs to it (agent/scope.py), and a person must be a member to take part.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from agent.store.db import (
    Conversation,
    ConversationKind,
    GroupSession,
    MemberRole,
    SessionMember,
    SessionMode,
    SessionState,
    User,
    utcnow,
)
from agent.store.people import conversation_kind, same_or_null
from agent.types import Place


class NotInSession(Exception):
    """A person who is not a member spoke in a session. The message is one line for them."""

    def __init__(self, theme: str) -> None:
        super().__init__(
            f"This is a group session on “{theme}”: join it with /session join to take part."
        )


class SessionRefused(Exception):
    """A session command that cannot be done (not the host, the session locked, a vote that
    does not count): one line for the asker alone; nothing of it is stored."""


class SessionPaused(Exception):
    """The host paused the session: nothing is made or said there until it resumes."""

    def __init__(self) -> None:
        super().__init__("The host paused the session; it goes on after /session resume.")


async def session_at(session: AsyncSession, platform: str, place: Place) -> GroupSession | None:
    """The session that has not ended at this place, if any."""
    query = (
        select(GroupSession)
        .join(Conversation, GroupSession.conversation_id == Conversation.id)
        .where(
            Conversation.platform == platform,
            Conversation.kind == ConversationKind.SESSION,
            same_or_null(Conversation.channel_id, place.channel_id),
            same_or_null(Conversation.thread_id, place.thread_id),
            GroupSession.state != SessionState.ENDED,
        )
    )
    return (await session.execute(query.limit(1))).scalar_one_or_none()


async def conversation_here(
    session: AsyncSession, platform: str, user: User, place: Place
) -> tuple[Conversation | None, GroupSession | None]:
    """Where a turn of `user` at `place` belongs: the session on there (with its
    conversation), else the person's own conversation (None before their first message).

    One statement on every turn: the place's index (kind, platform, channel, thread) is
    sought for the two kinds a place can hold, a session's and the person's own."""
    session_on = and_(
        GroupSession.conversation_id == Conversation.id,
        GroupSession.state != SessionState.ENDED,
    )
    query = (
        select(Conversation, GroupSession.id)
        .outerjoin(GroupSession, session_on)
        .where(
            Conversation.platform == platform,
            Conversation.kind.in_((conversation_kind(place), ConversationKind.SESSION)),
            same_or_null(Conversation.channel_id, place.channel_id),
            same_or_null(Conversation.thread_id, place.thread_id),
            or_(Conversation.owner_id == user.id, GroupSession.id.is_not(None)),
        )
        .order_by(GroupSession.id.is_(None))  # a session on here comes first
        .limit(1)
    )
    row = (await session.execute(query)).first()
    if row is None:
        return None, None
    conversation, group_id = row
    # Only a session is loaded whole (with its members): most turns are in no session.
    group = None if group_id is None else await session.get(GroupSession, group_id)
    return conversation, group


async def start_session(
    session: AsyncSession,
    *,
    platform: str,
    place: Place,
    host: User,
    theme: str,
    mode: SessionMode,
    style: str | None,
    turn_minutes: int | None,
    hidden: bool,
) -> GroupSession:
    """A new session at `place` with `host` as its first member."""
    conversation = Conversation(
        kind=ConversationKind.SESSION,
        platform=platform,
        guild_id=place.guild_id,
        channel_id=place.channel_id,
        thread_id=place.thread_id,
        owner_id=None,  # shared: its members, not one person, see it
    )
    group = GroupSession(
        conversation=conversation,
        theme=theme,
        style=style,
        mode=mode,
        turn_minutes=turn_minutes,
        hidden=hidden,
        state=SessionState.OPEN,
        members=[SessionMember(user_id=host.id, role=MemberRole.HOST, joined_at=utcnow())],
    )
    session.add(group)
    await session.flush()
    return group


def membership(group: GroupSession, user_id: int) -> SessionMember | None:
    """The person's membership, present or past."""
    return next((member for member in group.members if member.user_id == user_id), None)


def present_member(group: GroupSession | None, user_id: int) -> SessionMember | None:
    """The person's membership while they are in the session; None otherwise."""
    member = None if group is None else membership(group, user_id)
    return member if member is not None and member.present else None


def present(group: GroupSession) -> list[SessionMember]:
    """The members who have not left, longest-standing first."""
    return sorted((m for m in group.members if m.present), key=lambda m: m.joined_at)


def host_of(group: GroupSession) -> SessionMember | None:
    return next((m for m in present(group) if m.role == MemberRole.HOST), None)


def join(group: GroupSession, user_id: int) -> SessionMember:
    """Add the person, or bring them back; joining again while present changes nothing."""
    member = membership(group, user_id)
    if member is None:
        member = SessionMember(user_id=user_id, role=MemberRole.MEMBER, joined_at=utcnow())
        group.members.append(member)
    elif not member.present:
        member.left_at, member.joined_at, member.role = None, utcnow(), MemberRole.MEMBER
    return member


def leave(group: GroupSession, member: SessionMember) -> SessionMember | None:
    """The member leaves; a host's place passes to the longest-standing member. Returns the
    new host when it passed, None otherwise."""
    member.left_at = utcnow()
    if member.role != MemberRole.HOST:
        return None
    member.role = MemberRole.MEMBER
    staying: Sequence[SessionMember] = present(group)
    if not staying:
        return None
    staying[0].role = MemberRole.HOST
    return staying[0]
