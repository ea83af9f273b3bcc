"""The turn pipeline: Agent.respond(turn) -> Reply, in one pass.

    1. plan       what the turn asks, before the database: an explicit command's tool and
                  validated Args, a suggestion to apply, free text, or files alone; the files
                  sent are checked by the tools that take them, in a thread (agent/planning.py)
    2. scope      the uploads written to the media store (in a thread), then one transaction
                  resolves who and where: person, conversation, piece in focus, history
                  (agent/scope.py)
    3. decide     free text goes to the router, or to the tool-calling loop (agent/chat/)
    4. make       the studio runs the tool with no transaction open (agent/making/studio.py)
    5. store      the person's message, what was made and the reply, in one transaction
                  (agent/writes.py); the transport renders the Reply

The commands no creative tool runs (/cancel, /settings, /session, the account commands) are
answered from a table (agent/commands.py); what transports ask between turns (pickers, a
delivered message, the session clock) is agent/between_turns.py.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agent.apology import apology
from agent.between_turns import BetweenTurns
from agent.boundary import admit
from agent.chat.backends.errors import PERSON_LINE, ChatUnavailable
from agent.chat.replies import ChatReplies, as_chat
from agent.chat.tool_loop import ToolLoop
from agent.commands import Commands
from agent.config import Settings
from agent.making.decisions import ANSWER, REVISE, Router
from agent.making.revisions import CannotRevise, piece_to_revise, revising
from agent.making.studio import Request, Studio
from agent.making.suggestions import WHICH_CRITIQUE, SuggestionAsk, plan_revision
from agent.making.uploads import write_uploads
from agent.planning import plan_turn
from agent.policy.gate import Policies
from agent.scaleout.unclaimed import UnclaimedResults
from agent.scope import Scope, Scopes
from agent.sessions.exporting import SessionExports
from agent.sessions.play import SessionPlay
from agent.store.artifacts import shown_artifact
from agent.store.db import Artifact
from agent.store.media import MediaUnwritable
from agent.store.memory import Memory
from agent.store.retry import DatabaseUnavailable, not_answering
from agent.types import Announce, Reply, TextSink, Turn
from agent.undo import spoken_undo
from agent.writes import FORGOTTEN, TurnWrites
from tools.contract import ArtifactKind, Tool, ToolArgs

logger = logging.getLogger(__name__)


class Agent(BetweenTurns):
    def __init__(
        self,
        *,
        settings: Settings,
        sessions: async_sessionmaker[AsyncSession],
        memory: Memory,
        studio: Studio,
        replies: ChatReplies,
        router: Router,
        tool_loop: ToolLoop | None = None,
    ) -> None:
        exports = SessionExports.in_data_dir(
            sessions, studio.media, settings.data_dir, file_limit_mb=settings.discord_file_limit_mb
        )
        super().__init__(sessions=sessions, memory=memory, media=studio.media, exports=exports)
        self._settings = settings
        self._studio = studio
        self._replies = replies
        self._router = router
        self._tool_loop = tool_loop
        self._scopes = Scopes(sessions, memory)
        studio.draw_with(self._scopes.drawn_on)  # what Args decided after the scope draw on
        # The servers' /settings: asked by every turn here and by transports (agent/policy/).
        self.policy = Policies(sessions)
        self._writes = TurnWrites(sessions=sessions, memory=memory, studio=studio)
        self._play = SessionPlay(
            sessions=sessions, memory=memory, studio=studio, writes=self._writes, clock=self._clock
        )
        self._commands = Commands(
            settings=settings,
            sessions=sessions,
            memory=memory,
            studio=studio,
            policy=self.policy,
            scopes=self._scopes,
            clock=self._clock,
            play=self._play,
            exports=exports,
        )
        # Results that came back while atelier was restarting (ATELIER_JOBS=nats://...).
        self.unclaimed = UnclaimedResults(
            sessions=sessions, memory=memory, media=studio.media, tools=studio.tools
        )

    def announce_with(self, platform: str, announce: Announce) -> None:
        """As between turns; the late results owed at the platform's places are told too."""
        super().announce_with(platform, announce)
        owed = asyncio.get_running_loop().create_task(
            self.unclaimed.announce_with(platform, announce)
        )
        self._rearming.add(owed)
        owed.add_done_callback(self._rearming.discard)

    @property
    def tools(self) -> tuple[Tool, ...]:
        """The creative tools, for transports that offer each as a command (slash commands)."""
        return tuple(self._studio.tools.values())

    async def respond(self, turn: Turn) -> Reply:
        # A tool command holds its place in everyone's queue from the start, so in a burst
        # the turns past the cap are told at once, before any database work (agent/jobs.py).
        with self._studio.place_for(turn.command) as busy:
            return busy or await self._answered(turn)

    async def _answered(self, turn: Turn) -> Reply:
        try:
            return await self._respond(turn)
        except (DatabaseUnavailable, MediaUnwritable) as fault:  # logged where it happened
            return Reply(str(fault), stored=False)
        except DBAPIError as error:  # a transaction not retried (agent/store/retry.py)
            fault = not_answering(error, doing="answering a turn")
            if fault is None:
                raise
            return Reply(str(fault), stored=False)

    async def _respond(self, turn: Turn) -> Reply:
        admitted = admit(turn, text_limit=self._settings.max_message_chars)
        if isinstance(admitted, Reply):  # out of bounds: refused before anything reads it
            return admitted
        turn = admitted  # cleaned once: what follows counts, parses and stores these texts
        turn = spoken_undo(turn)  # "undo", "撤销": /undo (agent/undo.py reads those words)
        if turn.command is not None and self._commands.handles(turn.command):
            return await self._commands.answer(turn)  # /cancel, /settings, /session, /help ...
        rules = await self.policy.for_turn(turn)
        if isinstance(rules, str):  # a blocked person, a channel the server left out
            return Reply(rules, stored=False, private=True)
        plan = await plan_turn(
            turn, self._studio.tools, text_limit=self._settings.max_message_chars
        )
        if isinstance(plan, Reply):
            return plan
        written = await write_uploads(plan.uploads, self._studio.media)
        scope = await self._scopes.resolve(
            turn,
            piece=plan.piece,
            uploads=written,
            # Only free text is decided with the history in view.
            window_tokens=self._replies.window_tokens(plan.said) if plan.text else None,
            kinds=tuple(ArtifactKind) if plan.tool is None else (plan.tool.kind,),
            args=plan.args,  # what a command's run draws on, read in the same transaction
        )
        if isinstance(scope, Reply):
            return scope
        scope = replace(scope, rules=rules)
        if plan.tool is not None and plan.args is not None:
            return await self._make(turn, scope, plan.tool, plan.args, said=plan.said)
        if scope.shared is not None and plan.text and plan.suggestion is None:
            played = await self._play.words(turn, scope, plan.said)  # a relay line, a candidate
            if played is not None:
                return played
        if plan.suggestion is not None:
            return await self._apply_suggestion(turn, scope, plan.suggestion, plan.said)
        if not plan.text:
            return await self._kept_files(scope, plan.said)
        return await self._decide(turn, scope, plan.text)

    # --- 3. decide ---------------------------------------------------------------------------

    async def _decide(self, turn: Turn, scope: Scope, text: str) -> Reply:
        if self._tool_loop is not None:
            return await self._tool_turn(turn, scope, text)
        history = as_chat(scope.window.messages)
        decision = await self._router.decide(history, text, self.tools)
        if decision.question is not None:
            stored = await self._writes.words(scope, text, decision.question)
            return Reply(decision.question, stored=stored)
        if decision.choice == REVISE:
            return await self._revise(turn, scope, text)
        if decision.choice != ANSWER and decision.args is not None:
            tool = self._studio.tools[decision.choice]
            return await self._make(turn, scope, tool, decision.args, said=text)
        if scope.uploaded:  # no tool asked for: the files are kept for the next request
            return await self._kept_files(scope, text)
        return await self._chat(scope, text, turn.stream)

    async def _revise(self, turn: Turn, scope: Scope, text: str) -> Reply:
        """A change to the piece in focus ("make it darker"), made by the tool of its kind with
        these words; with no piece in focus the words are chat ("shorter, please")."""
        try:
            piece = piece_to_revise(scope)
            if piece is None:
                return await self._chat(scope, text, turn.stream)
            tool, args = revising(piece.kind, text, self.tools)
        except CannotRevise as problem:
            return Reply(str(problem), stored=False)
        return await self._make(turn, scope, tool, args, said=text, focus=piece)

    async def _apply_suggestion(
        self, turn: Turn, scope: Scope, ask: SuggestionAsk, said: str
    ) -> Reply:
        """'apply suggestion 2' with a critique in focus: the critiqued piece, revised by it."""
        critique = scope.focus
        try:
            if critique is None or critique.kind != ArtifactKind.CRITIQUE.value:
                raise CannotRevise(WHICH_CRITIQUE)
            revision = plan_revision(critique, ask.number, self.tools)
            piece = await self._critiqued_piece(scope, critique, revision.piece_number)
        except CannotRevise as problem:
            return Reply(str(problem), stored=False)
        return await self._make(turn, scope, revision.tool, revision.args, said=said, focus=piece)

    async def _critiqued_piece(
        self, scope: Scope, critique: Artifact, number: int | None
    ) -> Artifact:
        if number is not None:
            if scope.critiqued is None:
                raise CannotRevise(f"#{number}, which critique #{critique.id} is about, is gone.")
            return scope.critiqued
        poem = str(critique.params.get("poem") or "").strip()  # a critique of a pasted poem
        if not poem:
            raise CannotRevise(f"Critique #{critique.id} is not about a piece I can find.")
        form = (critique.params.get("measurements") or {}).get("form")
        return await self._writes.pasted_poem(scope, poem, form)

    # --- 4. make, 5. store -------------------------------------------------------------------

    async def _make(
        self,
        turn: Turn,
        scope: Scope,
        tool: Tool,
        args: ToolArgs,
        *,
        said: str,
        focus: Artifact | None = None,
    ) -> Reply:
        request = Request(
            tool=tool,
            args=args,
            scope=scope,
            focus=scope.focus if focus is None else focus,
            progress=turn.progress,
            said=said,
        )
        made = await self._studio.run(request)
        if isinstance(made, Reply):
            return made
        return await self._writes.pieces(scope, said, [made])

    async def _kept_files(self, scope: Scope, said: str) -> Reply:
        """Files sent with nothing for a tool to do: kept, so the next request can use them."""
        numbers = ", ".join(f"#{artifact.id}" for artifact in scope.uploaded)
        answer = f"Kept {numbers}. Ask for a variation, a critique, or something new from it."
        last = scope.uploaded[-1].id
        if not await self._writes.words(scope, said, answer, artifact_id=last):
            return Reply(FORGOTTEN, stored=False)
        shown = tuple(shown_artifact(artifact, self._studio.media) for artifact in scope.uploaded)
        return Reply(answer, artifacts=shown)

    async def _chat(self, scope: Scope, text: str, stream: TextSink | None = None) -> Reply:
        try:
            answer = await self._replies.answer(scope.window, text, scope.shared, stream)
        except ChatUnavailable as down:
            return _chat_unavailable(down)
        except Exception:  # noqa: BLE001 - any model failure becomes a message; the log keeps all
            return _could_not_answer()
        stored = await self._writes.words(scope, text, answer)
        if stored and scope.window.first_id is not None:
            await self._replies.maybe_summarize(scope.conversation_id, scope.window.first_id)
        return Reply(answer, stored=stored)

    async def _tool_turn(self, turn: Turn, scope: Scope, text: str) -> Reply:
        """Native tool calling: the model answers, or calls tools and then answers; what the
        tools made is stored with the person's message and the last words, together."""
        assert self._tool_loop is not None
        try:
            prompt = self._replies.prompt(scope.window, text, scope.shared)
            outcome = await self._tool_loop.run(prompt, turn, scope, self._scopes.named_piece)
            if not outcome.tool_calls and not outcome.answer:
                raise ValueError("the chat model returned an empty reply")
        except ChatUnavailable as down:  # what tools made meanwhile is not stored either
            return _chat_unavailable(down)
        except Exception:  # noqa: BLE001 - any model failure becomes a message; the log keeps all
            return _could_not_answer()
        if outcome.made:
            return await self._writes.pieces(scope, text, outcome.made, closing=outcome.answer)
        if scope.uploaded:
            return await self._kept_files(scope, text)
        stored = bool(outcome.answer) and await self._writes.words(scope, text, outcome.answer)
        return Reply(outcome.answer, stored=stored)


def _chat_unavailable(down: ChatUnavailable) -> Reply:
    """The operator's line in the log (no traceback: nothing here to debug), the person's
    in the reply; nothing of the turn is stored."""
    logger.warning("%s", down)
    return Reply(PERSON_LINE, stored=False)


def _could_not_answer() -> Reply:
    return apology(
        logger,
        what_failed="chat generation failed",
        said="Sorry, I could not answer that",
        after="Nothing was stored; please try again.",
    )
