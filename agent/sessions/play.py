"""What members' words do in a relay or a round: a line added to the relay poem, a candidate
made for the open round. In free mode (and in rounds mode between rounds) words go on as in
any conversation; `SessionPlay.words` returns None and the turn pipeline decides on them.

Each turn here is one pass too: the session is read and the contribution written in one
transaction (a relay line), or the candidate is made with no transaction open and stored,
with its place in the round, in one (agent/writes.py).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agent.making.studio import Made, Request, Studio
from agent.making.tool_args import BadToolArgs, validate_args
from agent.scope import Scope
from agent.sessions.clock import SessionClock
from agent.sessions.commands import PLAYED
from agent.sessions.relay import (
    Judged,
    RelayRefused,
    give_turn,
    judge,
    judged_line,
    member_after,
    poem_with_authors,
    relay_params,
    session_relay_poems,
    whose_turn,
)
from agent.sessions.rounds import (
    MAX_BOT_CANDIDATES,
    RoundRefused,
    add_candidates,
    check_proposal,
    open_round,
)
from agent.sessions.store import SessionRefused
from agent.store.artifacts import add_artifact, shown_artifact
from agent.store.db import (
    Artifact,
    GroupSession,
    Role,
    RoundState,
    SessionMode,
    SessionRound,
    utcnow,
)
from agent.store.memory import Memory
from agent.types import Command, Reply, Turn
from agent.writes import FORGOTTEN, TurnWrites
from tools.contract import ArtifactDraft, ArtifactKind, Tool

LINE = "line"  # /session line TEXT: a relay line as a command
CLOSING = "closing"  # /session end closing=music|picture: a last piece from the final poem
Run = Callable[[Turn], Awaitable[Reply]]
COUNT = re.compile(r"[0-9]{1,2}")


def makes_something(command: Command) -> bool:
    """The /session commands a tool or the relay serves (the others are the database's)."""
    action = command.args.get("action")
    return action in PLAYED or (action == "end" and bool(command.args.get(CLOSING)))


class SessionPlay:
    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        memory: Memory,
        studio: Studio,
        writes: TurnWrites,
        clock: SessionClock,
    ) -> None:
        self._sessions = sessions
        self._memory = memory
        self._studio = studio
        self._writes = writes
        self._clock = clock

    async def words(self, turn: Turn, scope: Scope, said: str) -> Reply | None:
        """A member's words in a relay or an open round; None where they are plain talk."""
        assert scope.shared is not None
        try:
            if scope.shared.mode == SessionMode.RELAY:
                return await self._relay_line(scope, said)
            if scope.shared.mode == SessionMode.ROUNDS:
                return await self._propose(turn, scope, said)
        except (RelayRefused, RoundRefused, SessionRefused) as refused:
            return Reply(str(refused), stored=False, private=True)
        return None

    async def command(self, turn: Turn, scope: Scope, command: Command, *, end: Run) -> Reply:
        """`line`, `candidates`, or `end` with a closing piece (then the end itself, `end`)."""
        action = command.args.get("action")
        if action == LINE:
            return await self.line(scope, command.text)
        if action == "end":
            return await self._end_with(turn, scope, str(command.args[CLOSING]), end)
        count = str(command.args.get("count") or command.text.strip() or "2")
        if not COUNT.fullmatch(count):  # ASCII digits: "²" is a digit to str.isdigit
            return Reply("How many? /session candidates 2", stored=False, private=True)
        return await self.candidates(turn, scope, int(count))

    async def _end_with(self, turn: Turn, scope: Scope, closing: str, end: Run) -> Reply:
        if closing not in ("music", "picture"):
            return Reply("A closing piece is music or a picture.", stored=False, private=True)
        made = await self.closing_piece(turn, scope, closing)
        if not made.artifacts:  # refused or failed: the session goes on, nothing ended
            return made
        assert turn.command is not None
        args = {k: v for k, v in turn.command.args.items() if k != CLOSING}
        ended = await end(replace(turn, command=replace(turn.command, args=args)))
        return replace(
            ended,
            text=f"{made.text}\n{ended.text}",
            artifacts=(*made.artifacts, *ended.artifacts),
        )

    async def line(self, scope: Scope, text: str) -> Reply:
        """/session line TEXT: the member's relay line, as a command. On Discord its reply is
        the asker's alone, so in a hidden relay the others never see the line written."""
        assert scope.shared is not None
        if scope.shared.mode != SessionMode.RELAY:
            return Reply("Only a relay takes lines.", stored=False, private=True)
        try:
            reply = await self._relay_line(scope, text)
        except (RelayRefused, SessionRefused) as refused:
            return Reply(str(refused), stored=False, private=True)
        return replace(reply, private=True) if scope.shared.hidden else reply

    async def closing_piece(self, turn: Turn, scope: Scope, kind: str) -> Reply:
        """At the end, a closing piece made from the session's final poem (its newest relay
        poem, else its newest poem): music set to it, or a picture of it; the host's alone."""
        assert scope.shared is not None
        if not scope.shared.is_host:
            return Reply("Only the host can end the session.", stored=False, private=True)
        wanted = ArtifactKind.MUSIC if kind == "music" else ArtifactKind.IMAGE
        tool = next((t for t in self._studio.tools.values() if t.kind == wanted), None)
        poem = await self._final_poem(scope)
        if tool is None or tool.from_poem is None:
            return Reply(f"No {kind} tool here makes a piece from a poem.", stored=False)
        if poem is None:
            return Reply(
                "There is no poem in this session to make a closing piece from.", stored=False
            )
        args = validate_args(tool, {**tool.from_poem, "piece": poem.id}, "")
        request = Request(tool=tool, args=args, scope=scope, focus=poem, progress=turn.progress)
        made = await self._studio.run(request)
        if isinstance(made, Reply):
            return made
        return await self._writes.pieces(scope, None, [made])

    async def _final_poem(self, scope: Scope) -> Artifact | None:
        async with self._sessions() as session:
            group = await _group(session, scope)
            poems = await session_relay_poems(session, group)
            if poems:
                return await session.get(Artifact, poems[-1].piece)
            query = (
                select(Artifact)
                .where(Artifact.conversation_id == group.conversation_id, Artifact.kind == "poem")
                .order_by(Artifact.id.desc())
            )
            return (await session.execute(query.limit(1))).scalar_one_or_none()

    async def candidates(self, turn: Turn, scope: Scope, count: int) -> Reply:
        """/session candidates N: the bot makes N candidates from the round's prompt, credited
        to the member who asked (who may vote for them)."""
        if not 1 <= count <= MAX_BOT_CANDIDATES:
            return Reply(f"Ask for 1 to {MAX_BOT_CANDIDATES} candidates.", stored=False)
        try:
            round_ = await self._round_for(scope)
            if round_ is None:
                raise RoundRefused("No round is open: the host opens one with /session round.")
            tool = self._tool_of(round_)
            made = [
                await self._make(turn, scope, tool, round_.prompt, seed=i) for i in range(count)
            ]
        except (RoundRefused, BadToolArgs) as refused:
            return Reply(str(refused), stored=False, private=True)
        pieces = [m for m in made if isinstance(m, Made)]
        if not pieces:
            return next(m for m in made if isinstance(m, Reply))
        said = f"/session candidates {count}"
        entered = await self._store_candidates(scope, said, pieces, round_.id, by_bot=True)
        return await self._with_jury(turn, scope, round_, entered)

    # --- relay ---------------------------------------------------------------------------------

    async def _relay_line(self, scope: Scope, said: str) -> Reply:
        person = self._memory.draft(Role.USER, said, author_id=scope.user_id)
        assert scope.shared is not None
        async with self._sessions() as session, session.begin():
            group = await _group(session, scope)
            if group.turn_user_id != scope.user_id:
                holder = whose_turn(group)
                name = "nobody's" if holder is None else f"{holder.user.display_name}'s"
                raise SessionRefused(f"It is {name} turn; your line comes when it is yours.")
            previous = await _relay_piece(session, group)
            judged = judge(None if previous is None else previous.text, said, group.form)
            following = member_after(group, scope.user_id)
            line = judged_line(judged, scope.shared.speaker, group.form)
            if following is not None:
                then = "The next poem begins with" if judged.complete else "Next:"
                line += f" {then} {following.user.display_name}."
            # Counted before the first write, so the tokenizer never runs under the lock.
            told = self._memory.draft(Role.ASSISTANT, line)
            piece = await _add_line(session, scope, group, judged, said, previous)
            if not await self._memory.append(
                session, scope.conversation_id, person, replace(told, artifact_id=piece.id)
            ):
                await session.rollback()
                return Reply(FORGOTTEN, stored=False)
            group.relay_piece_id = None if judged.complete else piece.id
            give_turn(group, following, utcnow())
            shown = await self._relay_shown(session, group, judged, piece)
            group_id = group.id
        await self._clock.sync(group_id)
        return Reply(f"{line}\n{shown.text}", artifacts=shown.artifacts)

    async def _relay_shown(
        self, session: AsyncSession, group: GroupSession, judged: Judged, piece: Artifact
    ) -> Reply:
        """What the session sees after a line: the poem so far, or with `hidden` only the
        line the next member follows; the whole poem with its authors once complete."""
        if judged.complete:
            poem = (await session_relay_poems(session, group))[-1]
            return Reply(
                f"The poem is complete (#{piece.id}):\n{poem_with_authors(poem)}",
                artifacts=(shown_artifact(piece, self._studio.media),),
            )
        if group.hidden:
            return Reply(f"The line to follow: “{judged.lines[-1]}”")
        return Reply("\n".join(judged.lines))

    # --- rounds --------------------------------------------------------------------------------

    async def _propose(self, turn: Turn, scope: Scope, said: str) -> Reply | None:
        round_ = await self._round_for(scope)
        if round_ is None:
            return None  # between rounds, words are talk
        check_proposal(round_, scope.user_id)
        made = await self._make(turn, scope, self._tool_of(round_), f"{round_.prompt}, {said}")
        if isinstance(made, Reply):
            return made
        entered = await self._store_candidates(scope, said, [made], round_.id, by_bot=False)
        return await self._with_jury(turn, scope, round_, entered)

    async def _with_jury(
        self, turn: Turn, scope: Scope, round_: SessionRound, entered: Reply
    ) -> Reply:
        """With a jury, each new candidate is critiqued in a few lines as it is posted; the
        critique is a piece of its own, made by the bot, and the candidate stands without it."""
        critic = next(
            (t for t in self._studio.tools.values() if t.kind == ArtifactKind.CRITIQUE), None
        )
        if not round_.jury or not entered.ballot:
            return entered
        if critic is None:
            return replace(entered, text=entered.text + "\n(No critique tool here: no jury.)")
        verdicts = [entered.text]
        artifacts = list(entered.artifacts)
        for number in entered.ballot:
            candidate = await self._candidate(scope, number)
            if candidate is None:  # forgotten meanwhile: nothing to judge
                continue
            args = validate_args(critic, {}, "")
            request = Request(
                tool=critic, args=args, scope=scope, focus=candidate, progress=turn.progress
            )
            made = await self._studio.run(request)
            if isinstance(made, Reply):  # the candidate stands; the jury says it could not
                verdicts.append(f"The jury could not judge #{number}: {made.text}")
                continue
            judged = await self._writes.pieces(scope, None, [made])
            verdicts.append(f"Jury on #{number}: {judged.text}")
            artifacts.extend(judged.artifacts)
        return replace(entered, text="\n".join(verdicts), artifacts=tuple(artifacts))

    async def _candidate(self, scope: Scope, number: int) -> Artifact | None:
        async with self._sessions() as session:
            piece = await session.get(Artifact, number)
        return (
            piece if piece is not None and piece.conversation_id == scope.conversation_id else None
        )

    async def _round_for(self, scope: Scope) -> SessionRound | None:
        async with self._sessions() as session:
            return await open_round(session, await _group(session, scope))

    def _tool_of(self, round_: SessionRound) -> Tool:
        kind = ArtifactKind(round_.kind)
        tool = next((t for t in self._studio.tools.values() if t.kind == kind), None)
        if tool is None:
            raise RoundRefused(f"No {round_.kind} tool is set up here to make candidates.")
        return tool

    async def _make(
        self, turn: Turn, scope: Scope, tool: Tool, text: str, *, seed: int | None = None
    ) -> Made | Reply:
        options = {"seed": seed} if seed is not None and "seed" in tool.args.model_fields else {}
        args = validate_args(tool, options, text)
        request = Request(tool=tool, args=args, scope=scope, focus=None, progress=turn.progress)
        return await self._studio.run(request)

    async def _store_candidates(
        self, scope: Scope, said: str, made: Sequence[Made], round_id: int, *, by_bot: bool
    ) -> Reply:
        entered: list[int] = []

        async def enter_round(session: AsyncSession, pieces: Sequence[Artifact]) -> None:
            round_ = await session.get(SessionRound, round_id)
            if round_ is None or round_.state != RoundState.OPEN:
                raise RoundRefused("The round closed while your candidate was being made.")
            if by_bot:
                for piece in pieces:
                    piece.params = {**piece.params, "by_bot": True}
            add_candidates(round_, [piece.id for piece in pieces])
            entered.extend(piece.id for piece in pieces)

        try:
            reply = await self._writes.pieces(scope, said, made, also=enter_round)
        except RoundRefused as refused:
            return Reply(str(refused), stored=False)
        return replace(reply, ballot=tuple(entered))


async def _group(session: AsyncSession, scope: Scope) -> GroupSession:
    assert scope.shared is not None
    group = await session.get(GroupSession, scope.shared.session_id)
    if group is None:
        raise SessionRefused("This session is gone.")
    return group


async def _relay_piece(session: AsyncSession, group: GroupSession) -> Artifact | None:
    return (
        None if group.relay_piece_id is None else await session.get(Artifact, group.relay_piece_id)
    )


async def _add_line(
    session: AsyncSession,
    scope: Scope,
    group: GroupSession,
    judged: Judged,
    said: str,
    previous: Artifact | None,
) -> Artifact:
    draft = ArtifactDraft(
        ArtifactKind.POEM, text=judged.text, params=relay_params(judged, group.form)
    )
    return await add_artifact(
        session,
        conversation_id=scope.conversation_id,
        creator_id=scope.user_id,
        draft=draft,
        prompt=said,
        parent=previous,
        media=None,
    )
