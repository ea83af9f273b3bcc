"""What only a session's host may do: pause and resume, lock, kick a member, hand over, set the
shared style. Each answers in one line; a refusal changes nothing."""

from __future__ import annotations

from agent.sessions.store import present
from agent.store.db import GroupSession, MemberRole, SessionMember, SessionState, utcnow

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
    member = _named(group, text)
    if member is None:
        return f"No member here is called “{text}”." if text else f"Whom? /session {action} NAME"
    if member is host:
        return "That is you." if action == "host" else "You cannot kick yourself; /session leave."
    if action == "kick":
        member.left_at = utcnow()
        return f"{member.user.display_name} is no longer in the session."
    host.role, member.role = MemberRole.MEMBER, MemberRole.HOST
    return f"{member.user.display_name} is the host now."


def _restyle(group: GroupSession, text: str) -> str:
    if len(text) > STYLE_CHARS:
        return f"A style is at most {STYLE_CHARS} characters."
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
