"""The /session commands: start, join, leave, status, canvas, taste, pass, vote, end; the host
also pause, resume, lock, kick, host, style, skip, round, close.

A transport sends them as Command("session", {"action": ..., options}, text): the text is the
theme for `start`, the prompt for `round`, the member for `kick` and `host`. Each answers in
one message and stores no chat history; what it changes is stored in one transaction, and a
refusal (SessionRefused) is one line for the asker alone that changes nothing. After a change
the session's deadlines are re-armed (agent/sessions/clock.py).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Mapping
from datetime import timedelta
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agent.making.tool_args import explain
from agent.sessions.canvas import canvas_text
from agent.sessions.clock import SessionClock
from agent.sessions.exporting import SessionExports
from agent.sessions.finale import end_session
from agent.sessions.hosting import host_control
from agent.sessions.relay import give_turn, pass_from, pass_turn, whose_turn
from agent.sessions.rounds import (
    RoundArgs,
    RoundRefused,
    closed_reply,
    everyone_voted,
    open_round,
    round_status,
    start_round,
    vote,
)
from agent.sessions.store import (
    SessionRefused,
    host_of,
    join,
    leave,
    present,
    present_member,
    session_at,
)
from agent.sessions.store import start_session as store_start
from agent.store.artifacts import mentioned_number
from agent.store.db import (
    GroupSession,
    MemberRole,
    SessionMember,
    SessionMode,
    SessionState,
    User,
    utcnow,
)
from agent.store.media import MediaStore
from agent.store.people import find_or_create_user
from agent.types import Command, Reply, Turn
from tools.poem.forms import form_name
from tools.poem.plan import form_or_free_verse

SESSION_COMMAND = "session"
# Actions that make something, so the agent runs them with a turn's scope (play.py): a relay
# line sent as a command, and candidates the bot makes for a round.
PLAYED = ("line", "candidates")
ACTIONS = (
    *("start", "join", "leave", "status", "canvas", "taste", "pass", "vote", *PLAYED),
    *("export", "end"),
)
EXPORTED = ("export", "end")  # the replies that come with the session's zip
HOST_ACTIONS = ("pause", "resume", "lock", "kick", "host", "style", "skip", "round", "close")
# What each host control does, for the line that refuses it to anyone else.
HOST_DOES = {
    "pause": "pause the session",
    "resume": "resume the session",
    "lock": "lock the session",
    "kick": "remove a member",
    "host": "hand the session over",
    "style": "set the session's style",
    "skip": "skip a turn",
}
NO_SESSION = "There is no session here. Start one: /session start mode=free a night market"


class StartArgs(BaseModel):
    """What /session start takes; the theme is its free text."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    theme: str = Field(min_length=1, max_length=200, description="what the session is about")
    mode: Literal["free", "relay", "rounds"] = Field("free", description="free, relay or rounds")
    style: str | None = Field(None, max_length=300, description="added to every piece")
    turn_minutes: int | None = Field(None, ge=1, le=24 * 60, description="a relay turn's limit")
    hidden: bool = Field(False, description="relay: each member sees only the previous line")
    form: str | None = Field(None, description="relay: the poem's form (haiku, sonnet, 五言绝句)")
    self_vote: bool = Field(False, description="rounds: may members vote for their own")
    minutes: int | None = Field(None, ge=1, le=7 * 24 * 60, description="ends by itself after")

    @field_validator("form")
    @classmethod
    def _known_form(cls, value: str | None) -> str | None:
        return None if value is None else form_name(value)


Said = str | Reply
ArgsT = TypeVar("ArgsT", bound=BaseModel)
Action = Callable[[AsyncSession, Turn, User, GroupSession | None], Coroutine[Any, Any, Said]]


class SessionCommands:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        media: MediaStore,
        clock: SessionClock,
        exports: SessionExports,
    ) -> None:
        self._sessions = sessions
        self._media = media
        self._clock = clock
        self._exports = exports
        self._actions: Mapping[str, Action] = {
            "start": self._start,
            "join": self._join,
            "leave": self._leave,
            "status": self._status,
            "canvas": self._canvas,
            "taste": self._taste,
            "pass": self._pass,
            "vote": self._vote,
            "end": self._end,
            "export": self._export,
            "round": self._round,
            "close": self._close,
            **dict.fromkeys(HOST_DOES, self._host),
        }

    async def run(self, turn: Turn) -> Reply:
        assert turn.command is not None
        action = str(turn.command.args.get("action") or "status")
        if action not in self._actions:
            every = ", ".join(ACTIONS)
            return Reply(
                f"/session takes {every}; the host also {', '.join(HOST_ACTIONS)}.", stored=False
            )
        try:
            async with self._sessions() as session, session.begin():
                user = await find_or_create_user(session, turn.platform, turn.user)
                group = await session_at(session, turn.platform, turn.place)
                said = await self._actions[action](session, turn, user, group)
                # A session just started is found again to arm its deadlines.
                touched = group or await session_at(session, turn.platform, turn.place)
        except (SessionRefused, RoundRefused) as refused:
            return Reply(str(refused), stored=False, private=True)
        reply = said if isinstance(said, Reply) else Reply(said, stored=False)
        if touched is None:
            return reply
        await self._clock.sync(touched.id)
        # Written after the transaction, from what it committed (the finale's final state).
        return await self._exports.attach(reply, touched.id) if action in EXPORTED else reply

    async def _start(
        self, session: AsyncSession, turn: Turn, user: User, group: GroupSession | None
    ) -> Said:
        if group is not None:
            raise SessionRefused(
                f"A session on “{group.theme}” is already on here; /session join takes part."
            )
        assert turn.command is not None
        args = _validated(StartArgs, turn.command, text_field="theme")
        started = await store_start(
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
        started.form, started.self_vote = args.form, args.self_vote
        if args.minutes is not None:
            started.ends_at = utcnow() + timedelta(minutes=args.minutes)
        if args.mode == SessionMode.RELAY:
            give_turn(started, started.members[0], utcnow())  # the host begins
        return _welcome(args, user.display_name)

    async def _join(
        self, session: AsyncSession, turn: Turn, user: User, group: GroupSession | None
    ) -> Said:
        if group is None:
            raise SessionRefused(NO_SESSION)
        if present_member(group, user.id) is not None:
            raise SessionRefused(f"You are already in the session on “{group.theme}”.")
        if group.state == SessionState.LOCKED:
            raise SessionRefused("The host has locked this session: nobody new may join.")
        member = join(group, user.id)
        said = f"Welcome, {user.display_name}: you are in the session on “{group.theme}”."
        if group.mode == SessionMode.RELAY and whose_turn(group) is None:
            give_turn(group, member, utcnow())
            said += " It is your turn: send your line."
        return said

    async def _leave(
        self, session: AsyncSession, turn: Turn, user: User, group: GroupSession | None
    ) -> Said:
        member = present_member(group, user.id)
        if group is None or member is None:
            raise SessionRefused("You are not in a session here.")
        new_host = leave(group, member)
        said = f"{user.display_name} left the session."
        if new_host is not None:
            said += f" {new_host.user.display_name} is the host now."
        if not present(group):
            group.state, group.ended_at = SessionState.ENDED, utcnow()
            said += " Nobody is left, so the session has ended."
            return Reply(said, stored=False, session_ended=True)
        return said + pass_from(group, user.id)

    async def _status(
        self, session: AsyncSession, turn: Turn, user: User, group: GroupSession | None
    ) -> Said:
        if group is None:
            raise SessionRefused(NO_SESSION)
        names = [
            m.user.display_name + (" (host)" if m.role == MemberRole.HOST else "")
            for m in present(group)
        ]
        style = f"; style: {group.style}" if group.style else ""
        said = (
            f"Session on “{group.theme}”: {group.mode}, {group.state}{style}. "
            f"Members: {', '.join(names) or 'nobody'}."
        )
        if group.mode == SessionMode.RELAY:
            turn_of = whose_turn(group)
            said += f" Turn: {turn_of.user.display_name}." if turn_of else " Nobody's turn."
        if group.mode == SessionMode.ROUNDS:
            said += " " + round_status(await open_round(session, group))
        return said

    async def _canvas(
        self, session: AsyncSession, turn: Turn, user: User, group: GroupSession | None
    ) -> Said:
        if group is None:
            raise SessionRefused(NO_SESSION)
        return await canvas_text(session, group)

    async def _taste(
        self, session: AsyncSession, turn: Turn, user: User, group: GroupSession | None
    ) -> Said:
        member = present_member(group, user.id)
        if member is None:
            raise SessionRefused("You are not in a session here.")
        assert turn.command is not None
        choice = turn.command.text.strip().lower()
        if choice not in ("on", "off"):
            state = "on" if member.taste else "off"
            raise SessionRefused(
                f"Your taste in this session is {state}: /session taste on (or off)."
            )
        member.taste = choice == "on"
        if member.taste:
            said = "Your kept pieces will now shape what you ask for in this session."
        else:
            said = "Your kept pieces no longer shape this session's pieces."
        return Reply(said, stored=False, private=True)

    async def _pass(
        self, session: AsyncSession, turn: Turn, user: User, group: GroupSession | None
    ) -> Said:
        _member_of(group, user)
        assert group is not None
        if group.mode != SessionMode.RELAY:
            raise SessionRefused("Only a relay has turns to pass.")
        if group.turn_user_id != user.id:
            holder = whose_turn(group)
            raise SessionRefused(
                f"It is {holder.user.display_name}'s turn, not yours."
                if holder
                else "Nobody's turn."
            )
        following = pass_turn(group)
        if following is None or following.user_id == user.id:
            return f"{user.display_name} passed; nobody else is here, so it is still yours."
        return f"{user.display_name} passed. It is {following.user.display_name}'s turn."

    async def _vote(
        self, session: AsyncSession, turn: Turn, user: User, group: GroupSession | None
    ) -> Said:
        _member_of(group, user)
        assert group is not None and turn.command is not None
        piece = turn.command.args.get("piece") or mentioned_number(turn.command.text)
        if not isinstance(piece, int):
            raise SessionRefused("Vote for which candidate? /session vote #N")
        round_ = await open_round(session, group)
        if round_ is None:
            raise SessionRefused("No round is open: there is nothing to vote on.")
        said = vote(group, round_, user.id, piece)
        if not everyone_voted(group, round_):
            return Reply(said, stored=False, private=True)  # a ballot is secret until the close
        last = f"{user.display_name} cast the last vote. Everyone has voted. "
        return await closed_reply(session, round_, self._media, last)

    async def _round(
        self, session: AsyncSession, turn: Turn, user: User, group: GroupSession | None
    ) -> Said:
        _host_of(group, user, "open a round")
        assert group is not None and turn.command is not None
        if group.mode != SessionMode.ROUNDS:
            raise SessionRefused(f"This session is in {group.mode} mode; rounds are for rounds.")
        if await open_round(session, group) is not None:
            raise SessionRefused("A round is open already: /session close ends it first.")
        args = _validated(RoundArgs, turn.command, text_field="prompt")
        opened = await start_round(session, group, args)
        deadline = f" Voting closes in {args.minutes} min." if args.minutes else ""
        return (
            f"Round {opened.number} is open: {args.kind} — “{args.prompt}”. Say what you "
            f"would make of it, or ask for candidates (/session candidates 2); then vote "
            f"(/session vote #N).{deadline}"
        )

    async def _close(
        self, session: AsyncSession, turn: Turn, user: User, group: GroupSession | None
    ) -> Said:
        _host_of(group, user, "close a round")
        assert group is not None
        round_ = await open_round(session, group)
        if round_ is None:
            raise SessionRefused("No round is open.")
        return await closed_reply(session, round_, self._media)

    async def _host(
        self, session: AsyncSession, turn: Turn, user: User, group: GroupSession | None
    ) -> Said:
        assert turn.command is not None
        action = str(turn.command.args["action"])
        host = _host_of(group, user, HOST_DOES[action])
        assert group is not None
        return host_control(group, host, action, turn.command.text.strip())

    async def _export(
        self, session: AsyncSession, turn: Turn, user: User, group: GroupSession | None
    ) -> Said:
        _member_of(group, user)
        return "The session so far: every piece, who made what, and a page to open offline."

    async def _end(
        self, session: AsyncSession, turn: Turn, user: User, group: GroupSession | None
    ) -> Said:
        _host_of(group, user, "end the session")
        assert group is not None
        return await end_session(session, group, self._media)


def _validated(model: type[ArgsT], command: Command, *, text_field: str) -> ArgsT:
    """The command's options, and its free text as `text_field`, as `model`; a bad value is
    one line naming it."""
    options = {key: value for key, value in command.args.items() if key != "action"}
    try:
        return model.model_validate({**options, text_field: command.text.strip()})
    except ValidationError as error:
        raise SessionRefused(f"/session {command.args['action']}: {explain(error)}") from None


def _member_of(group: GroupSession | None, user: User) -> None:
    if group is None:
        raise SessionRefused(NO_SESSION)
    if present_member(group, user.id) is None:
        raise SessionRefused("You are not in the session here: /session join takes part.")


def _host_of(group: GroupSession | None, user: User, what: str) -> SessionMember:
    if group is None:
        raise SessionRefused(NO_SESSION)
    host = host_of(group)
    if host is None or host.user_id != user.id:
        raise SessionRefused(f"Only the host can {what}.")
    return host


def _welcome(args: StartArgs, host: str) -> str:
    rules = {
        "free": "anyone may ask for a piece at any time, and build on anyone's",
        "relay": "members add lines to the poem in turn, in the order they joined",
        "rounds": "the host opens rounds; members propose, then vote",
    }[args.mode]
    style = f" Every piece is made in this style: {args.style}." if args.style else ""
    relay_form = form_or_free_verse(args.form).label if args.form else None
    form = f" The poem is a {relay_form}." if args.mode == "relay" and relay_form else ""
    turn = f" {host} begins: send your line." if args.mode == "relay" else ""
    return (
        f"A session on “{args.theme}” has started, hosted by {host}. Mode: {args.mode}: "
        f"{rules}.{style}{form} To take part: /session join. Every message here is shared "
        f"with the members, labelled with who wrote it.{turn}"
    )
