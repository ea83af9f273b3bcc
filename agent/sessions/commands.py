"""The /session commands: start, join, leave, status, canvas, end.

A transport sends them as Command("session", {"action": ..., options}, text), the text being
the theme for `start`. Each answers in one message and stores no chat history; what they
change (a new session, a member, the end) is stored in one transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agent.making.tool_args import explain
from agent.sessions.canvas import canvas_text, credits_text
from agent.sessions.hosting import host_control
from agent.sessions.store import host_of, join, leave, present, present_member, session_at
from agent.sessions.store import start_session as store_start
from agent.store.db import GroupSession, MemberRole, SessionMode, SessionState, User, utcnow
from agent.store.people import find_or_create_user
from agent.types import Reply, Turn

SESSION_COMMAND = "session"
ACTIONS = ("start", "join", "leave", "status", "canvas", "taste", "end")
HOST_ACTIONS = ("pause", "resume", "lock", "kick", "host", "style")
NO_SESSION = "There is no session here. Start one: /session start mode=free a night market"


class StartArgs(BaseModel):
    """What /session start takes; the theme is its free text."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    theme: str = Field(min_length=1, max_length=200, description="what the session is about")
    mode: Literal["free", "relay", "rounds"] = Field("free", description="free, relay or rounds")
    style: str | None = Field(None, max_length=300, description="added to every piece")
    turn_minutes: int | None = Field(None, ge=1, le=24 * 60, description="a relay turn's limit")
    hidden: bool = Field(False, description="relay: each member sees only the previous line")


Action = Callable[[AsyncSession, Turn, User, GroupSession | None], Coroutine[Any, Any, str]]


class SessionCommands:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self._actions: Mapping[str, Action] = {
            "start": self._start,
            "join": self._join,
            "leave": self._leave,
            "status": self._status,
            "canvas": self._canvas,
            "taste": self._taste,
            "end": self._end,
            **dict.fromkeys(HOST_ACTIONS, self._host_control),
        }

    async def run(self, turn: Turn) -> Reply:
        assert turn.command is not None
        action = str(turn.command.args.get("action") or "status")
        if action not in self._actions:
            every = ", ".join(ACTIONS)
            return Reply(
                f"/session takes {every}; the host also {', '.join(HOST_ACTIONS)}.", stored=False
            )
        async with self._sessions() as session, session.begin():
            user = await find_or_create_user(session, turn.platform, turn.user)
            group = await session_at(session, turn.platform, turn.place)
            said = await self._actions[action](session, turn, user, group)
        return Reply(said, stored=False)

    async def _start(
        self, session: AsyncSession, turn: Turn, user: User, group: GroupSession | None
    ) -> str:
        if group is not None:
            return f"A session on “{group.theme}” is already on here; /session join takes part."
        assert turn.command is not None
        options = {k: v for k, v in turn.command.args.items() if k != "action"}
        try:
            args = StartArgs.model_validate({**options, "theme": turn.command.text.strip()})
        except ValidationError as error:
            return f"/session start: {explain(error)}"
        await store_start(
            session,
            platform=turn.platform,
            place=turn.place,
            host=user,
            theme=args.theme,
            mode=SessionMode(args.mode),
            style=args.style,
            turn_minutes=args.turn_minutes,
            hidden=args.hidden,
        )
        return _welcome(args, user.display_name)

    async def _join(
        self, session: AsyncSession, turn: Turn, user: User, group: GroupSession | None
    ) -> str:
        if group is None:
            return NO_SESSION
        if present_member(group, user.id) is not None:
            return f"You are already in the session on “{group.theme}”."
        if group.state == SessionState.LOCKED:
            return "The host has locked this session: nobody new may join."
        join(group, user.id)
        return f"Welcome, {user.display_name}: you are in the session on “{group.theme}”."

    async def _leave(
        self, session: AsyncSession, turn: Turn, user: User, group: GroupSession | None
    ) -> str:
        member = present_member(group, user.id)
        if group is None or member is None:
            return "You are not in a session here."
        new_host = leave(group, member)
        said = f"{user.display_name} left the session."
        if new_host is not None:
            said += f" {new_host.user.display_name} is the host now."
        if not present(group):
            group.state, group.ended_at = SessionState.ENDED, utcnow()
            said += " Nobody is left, so the session has ended."
        return said

    async def _status(
        self, session: AsyncSession, turn: Turn, user: User, group: GroupSession | None
    ) -> str:
        if group is None:
            return NO_SESSION
        names = [
            m.user.display_name + (" (host)" if m.role == MemberRole.HOST else "")
            for m in present(group)
        ]
        style = f"; style: {group.style}" if group.style else ""
        return (
            f"Session on “{group.theme}”: {group.mode}, {group.state}{style}. "
            f"Members: {', '.join(names) or 'nobody'}."
        )

    async def _canvas(
        self, session: AsyncSession, turn: Turn, user: User, group: GroupSession | None
    ) -> str:
        if group is None:
            return NO_SESSION
        return await canvas_text(session, group)

    async def _taste(
        self, session: AsyncSession, turn: Turn, user: User, group: GroupSession | None
    ) -> str:
        member = present_member(group, user.id)
        if member is None:
            return "You are not in a session here."
        assert turn.command is not None
        choice = turn.command.text.strip().lower()
        if choice not in ("on", "off"):
            state = "on" if member.taste else "off"
            return f"Your taste in this session is {state}: /session taste on (or off)."
        member.taste = choice == "on"
        if member.taste:
            return "Your kept pieces will now shape what you ask for in this session."
        return "Your kept pieces no longer shape this session's pieces."

    async def _host_control(
        self, session: AsyncSession, turn: Turn, user: User, group: GroupSession | None
    ) -> str:
        if group is None:
            return NO_SESSION
        host = host_of(group)
        assert turn.command is not None
        action, text = str(turn.command.args["action"]), turn.command.text.strip()
        if host is None or host.user_id != user.id:
            return f"Only the host can {action} the session."
        return host_control(group, host, action, text)

    async def _end(
        self, session: AsyncSession, turn: Turn, user: User, group: GroupSession | None
    ) -> str:
        if group is None:
            return NO_SESSION
        host = host_of(group)
        if host is None or host.user_id != user.id:
            return "Only the host can end the session."
        group.state, group.ended_at = SessionState.ENDED, utcnow()
        pieces = await canvas_text(session, group)
        credits = await credits_text(session, group)
        return f"The session on “{group.theme}” has ended.\n{pieces}\n{credits}"


def _welcome(args: StartArgs, host: str) -> str:
    rules = {
        "free": "anyone may ask for a piece at any time, and build on anyone's",
        "relay": "members add to the piece in turn, in the order they joined",
        "rounds": "the host opens rounds; members propose, then vote",
    }[args.mode]
    style = f" Every piece is made in this style: {args.style}." if args.style else ""
    return (
        f"A session on “{args.theme}” has started, hosted by {host}. Mode: {args.mode}: "
        f"{rules}.{style} To take part: /session join. Every message here is shared with the "
        "members, labelled with who wrote it."
    )
