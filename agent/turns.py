"""The turn pipeline: Agent.respond(turn) -> Reply, in one pass.

    1. plan       what the turn asks, before the database: an explicit command's tool and
                  validated Args, a suggestion to apply, free text, or files alone; the files
                  sent are checked by the tools that take them (in a thread)
    2. scope      the uploads written to the media store (in a thread), then one transaction
                  resolves who and where: person, conversation, piece in focus, history
                  (agent/scope.py)
    3. decide     free text goes to the router, or to the tool-calling loop (agent/chat/)
    4. make       the studio runs the tool with no transaction open (agent/making/studio.py)
    5. store      the person's message, what was made and the reply, in one transaction
                  (agent/writes.py); the transport renders the Reply

Account commands (/history, /forget, /show ...) act on what is stored: agent/account.py.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import NamedTuple

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agent.account import AccountCommands
from agent.apology import apology
from agent.boundary import admit
from agent.cancelling.command import CANCEL_COMMAND, CancelCommands
from agent.chat.backends.errors import PERSON_LINE, ChatUnavailable
from agent.chat.replies import ChatReplies, as_chat
from agent.chat.tool_loop import ToolLoop
from agent.config import Settings
from agent.ledger.interrupted import InterruptedReports
from agent.making.decisions import ANSWER, REVISE, Router
from agent.making.revisions import CannotRevise, piece_to_revise, revising
from agent.making.studio import Request, Studio
from agent.making.suggestions import WHICH_CRITIQUE, SuggestionAsk, asked_suggestion, plan_revision
from agent.making.tool_args import BadToolArgs, usage, validate_args
from agent.making.uploads import Upload, UploadRefused, read_uploads, write_uploads
from agent.personal_export import PersonalExports
from agent.policy.commands import SETTINGS_COMMAND, SettingsCommands
from agent.policy.gate import Policies
from agent.policy.rules import PlaceRules
from agent.scope import Scope, Scopes
from agent.sessions.clock import SessionClock
from agent.sessions.commands import NO_SESSION, SESSION_COMMAND, SessionCommands
from agent.sessions.exporting import SessionExports
from agent.sessions.play import SessionPlay, makes_something
from agent.sessions.store import session_at
from agent.store.artifacts import mentioned_number, newest_pieces, shown_artifact
from agent.store.db import Artifact
from agent.store.media import MediaUnwritable
from agent.store.memory import Memory
from agent.store.people import find_user
from agent.store.retry import DatabaseUnavailable, not_answering, transaction
from agent.types import Announce, Command, Place, Reply, TextSink, Turn
from agent.writes import FORGOTTEN, TurnWrites
from tools.contract import ArtifactKind, Tool, ToolArgs

logger = logging.getLogger(__name__)

EMPTY_HINT = "Say something to start: a question, an idea for a poem, a picture in words."


class PieceSummary(NamedTuple):
    number: int
    kind: str
    prompt: str


@dataclass(frozen=True, kw_only=True)
class Plan:
    """What a turn asks, read from the Turn alone (step 1)."""

    said: str  # what the history keeps of the person's message
    piece: int | None = None  # the piece it names: a field, or #N in free text
    uploads: tuple[Upload, ...] = ()
    tool: Tool | None = None  # an explicit command's tool, with its validated args
    args: ToolArgs | None = None
    suggestion: SuggestionAsk | None = None  # "apply suggestion 2"
    text: str = ""  # free text to decide on; empty for commands and files sent alone


class Agent:
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
        self._settings = settings
        self._sessions = sessions
        self._memory = memory
        self._studio = studio
        self._replies = replies
        self._router = router
        self._tool_loop = tool_loop
        self._scopes = Scopes(sessions, memory)
        # The servers' /settings: asked by every turn here and by transports (agent/policy/).
        self.policy = Policies(sessions)
        self._server_settings = SettingsCommands(sessions, self.policy)
        self._writes = TurnWrites(sessions=sessions, memory=memory, studio=studio)
        personal = PersonalExports.in_data_dir(
            sessions, studio.media, settings.data_dir, file_limit_mb=settings.discord_file_limit_mb
        )
        self._account = AccountCommands(sessions, memory, studio.media, personal, self.tools)
        self._announcers: dict[str, Announce] = {}
        exports = SessionExports.in_data_dir(
            sessions, studio.media, settings.data_dir, file_limit_mb=settings.discord_file_limit_mb
        )
        self._clock = SessionClock(sessions, self._announcers, studio.media, exports)
        self._group_sessions = SessionCommands(sessions, studio.media, self._clock, exports)
        self._play = SessionPlay(
            sessions=sessions, memory=memory, studio=studio, writes=self._writes, clock=self._clock
        )
        self._rearming: set[asyncio.Task[int]] = set()
        self._interrupted = InterruptedReports(sessions)
        self._cancelling = CancelCommands(sessions, studio.running)

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
        if turn.command is not None and turn.command.name == CANCEL_COMMAND:
            return await self._cancelling.run(turn)  # stopping one's own run is always allowed
        if turn.command is not None and turn.command.name == SETTINGS_COMMAND:
            return await self._server_settings.run(turn)  # an admin's, in any channel
        rules = await self.policy.for_turn(turn)
        if isinstance(rules, str):  # a blocked person, a channel the server left out
            return Reply(rules, stored=False, private=True)
        if turn.command is not None and turn.command.name == SESSION_COMMAND:
            if makes_something(turn.command):
                return await self._session_play(turn, turn.command, rules)
            return await self._group_sessions.run(turn)
        if turn.command is not None and not self._studio.handles(turn.command):
            return await self._account.run(turn)
        plan = await self._plan(turn)
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

    async def recent_pieces(
        self, platform: str, external_id: str, limit: int = 25
    ) -> list[PieceSummary]:
        """The person's newest pieces (in conversations they own), for pickers such as
        Discord's autocomplete of #N."""
        async with self._sessions() as session:
            user = await find_user(session, platform, external_id)
            if user is None:
                return []
            rows = await newest_pieces(session, user.id, limit)
        return [PieceSummary(number, kind, prompt) for number, kind, prompt in rows]

    async def session_on(self, platform: str, place: Place) -> bool:
        """Whether a group session is on at `place`: there every message is for the bot,
        mentioned or not (a Discord thread)."""
        async with self._sessions() as session:
            return await session_at(session, platform, place) is not None

    def announce_with(self, platform: str, announce: Announce) -> None:
        """How to speak unprompted at a place of `platform` (a relay turn passed on at its
        timeout, a round closed at its deadline). Called on the running event loop, when the
        transport starts: the deadlines of the platform's sessions are re-armed then, so a
        restart keeps them (those that passed meanwhile fire at once)."""
        self._announcers[platform] = announce
        loop = asyncio.get_running_loop()
        # Jobs a crash interrupted are told to their owners then too (agent/ledger/).
        interrupted = self._interrupted.announce(platform, announce)
        for task in (loop.create_task(self._clock.rearm(platform)), loop.create_task(interrupted)):
            self._rearming.add(task)
            task.add_done_callback(self._rearming.discard)

    async def close(self) -> None:
        """Stop the session timers (the deadlines stay stored)."""
        self._clock.close()

    async def record_delivery(
        self, platform_message_id: str, artifact_numbers: Sequence[int]
    ) -> None:
        """A transport sent the message `platform_message_id` showing these pieces: a later
        reply to that message makes them the piece in focus (see artifacts.resolve_focus)."""
        if not artifact_numbers:
            return

        async def mark(session: AsyncSession) -> int:
            return await self._memory.mark_shown(session, artifact_numbers, platform_message_id)

        try:
            await transaction(self._sessions, mark, doing="recording a delivered message")
        except DatabaseUnavailable:  # logged; the answer is out, only a reply to that message
            return  # loses its piece in focus (the parts after it are still sent)

    async def _session_play(self, turn: Turn, command: Command, rules: PlaceRules) -> Reply:
        """The /session actions that make something (agent/sessions/play.py), with the
        turn's scope."""
        scope = await self._scopes.resolve(turn, piece=None, uploads=(), window_tokens=None)
        if isinstance(scope, Reply):
            return scope
        scope = replace(scope, rules=rules)
        if scope.shared is None:
            return Reply(NO_SESSION, stored=False, private=True)
        return await self._play.command(turn, scope, command, end=self._group_sessions.run)

    # --- 1. plan -----------------------------------------------------------------------------

    async def _plan(self, turn: Turn) -> Plan | Reply:
        try:
            uploads = tuple(await read_uploads(turn.attachments, self.tools))
        except UploadRefused as refused:
            return Reply(str(refused), stored=False)
        if turn.command is not None:
            return _command_plan(self._studio.tools[turn.command.name], turn.command, uploads)
        text = turn.text.strip()
        if uploads and not text:
            return Plan(said=_upload_line(turn), uploads=uploads)
        problem = self._check_text(turn.text)
        if problem is not None:
            return Reply(problem, stored=False)
        ask = asked_suggestion(text)
        # "suggestion #2" names a suggestion, not piece #2: the piece is read from the rest.
        piece = mentioned_number(text if ask is None else ask.rest)
        return Plan(said=text, piece=piece, uploads=uploads, suggestion=ask, text=text)

    def _check_text(self, text: str) -> str | None:
        limit = self._settings.max_message_chars
        if not text.strip():
            return EMPTY_HINT
        if len(text) > limit:
            return (
                f"That message is {len(text):,} characters; the limit is {limit:,}. "
                "Please shorten it or split it into parts. Nothing was stored."
            )
        return None

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


def _command_plan(tool: Tool, command: Command, uploads: tuple[Upload, ...]) -> Plan | Reply:
    if command.text.strip() == "help" and not command.args:
        return Reply(usage(tool), stored=False)
    try:
        args = validate_args(tool, command.args, command.text)
    except BadToolArgs as problem:
        return Reply(str(problem), stored=False)
    said = command_line(command)
    return Plan(said=said, piece=args.piece, uploads=uploads, tool=tool, args=args)


def command_line(command: Command) -> str:
    """The command as a person would type it, for the history."""
    options = " ".join(f"{key}={_typed(value)}" for key, value in command.args.items())
    return " ".join(part for part in (f"/{command.name}", options, command.text) if part)


def _typed(value: object) -> str:
    """A field's value as a console line would carry it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


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


def _upload_line(turn: Turn) -> str:
    """What the history keeps of a message that was only files."""
    return "[sent " + ", ".join(attachment.filename for attachment in turn.attachments) + "]"
