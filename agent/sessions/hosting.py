"""What only a session's host may do: pause and resume, lock, kick a member, hand over, set the
shared style, skip a relay turn. Each answers in one line; a refusal (SessionRefused) changes
nothing."""

from __future__ import annotations

from agent.sessions.relay import pass_from, pass_turn, whose_turn
from agent.sessions.store import SessionRefused, present
from agent.store.db import (
    GroupSession,
    MemberRole,
    SessionMember,
    SessionMode,
    SessionState,
    utcnow,
)

STYLE_CHARS = 300


def host_control(group: GroupSession, host: SessionMember, action: str, text: str) -> str:
    if action == "pause":
        group.state = SessionState.PAUSED
        return "The session is paused: nothing is made until the host sends /session resume."
    if action == "resume":
        group.state = SessionState.OPEN
        return "The session is open again."
    if action == "lock":
        group.state = SessionState.LOCKED
        return "The session is locked: members carry on, nobody new may join."
    if action == "style":
        return _restyle(group, text)
    if action == "skip":
        return _skip(group)
    member = _named(group, text)
    if member is None:
        raise SessionRefused(
            f"No member here is called “{text}”." if text else f"Whom? /session {action} NAME"
        )
    if member is host:
        raise SessionRefused(
            "That is you." if action == "host" else "You cannot kick yourself; /session leave."
        )
    if action == "kick":
        member.left_at = utcnow()
        return f"{member.user.display_name} is no longer in the session." + pass_from(
            group, member.user_id
        )
    host.role, member.role = MemberRole.MEMBER, MemberRole.HOST
    return f"{member.user.display_name} is the host now."


def _skip(group: GroupSession) -> str:
    if group.mode != SessionMode.RELAY:
        raise SessionRefused("Only a relay has turns to skip.")
    skipped = whose_turn(group)
    following = pass_turn(group)
    name = "Nobody" if skipped is None else skipped.user.display_name
    if following is None:
        return f"{name} was skipped; nobody is left to take the turn."
    return f"{name} was skipped. It is {following.user.display_name}'s turn."


def _restyle(group: GroupSession, text: str) -> str:
    if len(text) > STYLE_CHARS:
        raise SessionRefused(f"A style is at most {STYLE_CHARS} characters.")
    group.style = text or None
    if text:
        return f"Every new piece is now made in this style: {text}."
    return "The session has no shared style now."


def _named(group: GroupSession, name: str) -> SessionMember | None:
    """The present member with this display name (any case), or Discord/console id."""
    wanted = name.strip().lstrip("@").lower()
    for member in present(group):
        if wanted in (member.user.display_name.lower(), member.user.external_id.lower()):
            return member
    return None
