"""The fuzz property, shared by tests/agent/test_fuzz.py (a few hundred inputs, in `make test`)
and bench/fuzz.py (ten thousand and more, with the counts printed).

Generated Turns (tests/support/fuzz_inputs.py) go through a real Agent: the real creative
tools' Args and upload readers (with no models, so a valid request is refused in one line)
beside the small test tools that make and store pieces, on a real database and media store.
After each turn:

    unhandled    Agent.respond raised (or ran past a minute)
    reply        under 2,000 characters (one Discord message), with no NUL or lone surrogate
    half-stored  a refusal that kept something; a person's message stored without a reply
                 after it; a piece whose file is missing; a file no piece points at
    unclean      a stored text with a NUL or a lone surrogate, or a person's text (message,
                 name, id) that the boundary did not clean (agent/boundary.py)
    apologies    a failure the agent caught and apologised for ("Sorry, ... (ref ...)"):
                 handled, but each names an exception that should not have happened

Turns run one after another on one agent, so histories, pieces, sessions and /forget build on
what came before, as they do for real people.
"""

from __future__ import annotations

import asyncio
import logging
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed
from langchain_core.messages import BaseMessage
from sqlalchemy import func, select, union
from sqlalchemy.ext.asyncio import AsyncSession

from agent.boundary import clean_text, excerpt
from agent.chat.routing import fill_args
from agent.making.decisions import ANSWER, REVISE, Decision
from agent.store.db import Artifact, ArtifactFile, Conversation, Message, Role, User
from agent.types import Reply, Turn
from tests.support.fuzz_inputs import turns
from tests.support.studio_tools import SHEET, SKETCH, TRACE, VERSE, SketchArgs, trace
from tests.support.workshop import Workshop
from tools.contract import ArtifactDraft, Tool, ToolContext, ToolRefused
from tools.lineup import creative_tools
from tools.models.specs import ModelUnavailable

REPLY_LIMIT = 2_000  # Discord's message length
TURN_TIMEOUT_S = 60.0
KEPT_FAILURES = 20  # the first failures are kept, to print


def fuzz_tools() -> tuple[Tool, ...]:
    """The real tools (their Args, word rules and upload readers), and small ones that make
    pieces: `trace` refuses in one line when no image is in focus, as a real tool would."""
    return (*creative_tools(), VERSE, SKETCH, replace(TRACE, run=_trace_or_refuse), SHEET)


def _trace_or_refuse(args: SketchArgs, context: ToolContext) -> ArtifactDraft:
    if context.focus is None or context.focus.media_path is None:
        raise ToolRefused("Send or name an image to trace.")
    return trace(args, context)


class ModelsNotHere:
    """What the registry says when a role's model cannot be had (offline, not downloaded):
    a valid request to a real tool is refused in one line, as it would be for real."""

    def get(self, role: str) -> Any:
        setting = f"ATELIER_MODEL_{role.upper()}"
        raise ModelUnavailable(f"fuzz:{role}", "not on this machine", role=role, setting=setting)


class FuzzRouter:
    """Free text to the tool its first word names (as a router sends "a poem about ..." to the
    poem tool), "revise ..." to the piece in focus, anything else to chat: the router's own
    choice is not under test, what the tools make of the words is."""

    async def decide(
        self, history: Sequence[BaseMessage], text: str, tools: Sequence[Tool]
    ) -> Decision:
        first = text.split(maxsplit=1)[0].lower() if text.split() else ""
        if first == REVISE:
            return Decision(REVISE)
        named = {tool.name: tool for tool in tools}.get(first)
        return Decision(ANSWER) if named is None else fill_args(named, text)


@dataclass
class Tally:
    inputs: int = 0
    unhandled: int = 0
    half_stored: int = 0
    unclean: int = 0
    bad_replies: int = 0
    apologies: int = 0
    # Not counted as a failure: files a tool accepted are kept as pieces even when the turn
    # is then refused (a model missing), so that the next request can use them.
    kept_uploads: int = 0
    longest_reply: int = 0
    failures: list[str] = field(default_factory=list)

    def keep(self, kind: str, turn: Turn | None, detail: str) -> None:
        if len(self.failures) < KEPT_FAILURES:
            self.failures.append(f"{kind}: {detail}\n  input: {excerpt(_described(turn), 400)}")


def _described(turn: Turn | None) -> str:
    """The Turn's repr, with an int too long for Python to print described instead."""
    try:
        return repr(turn)
    except ValueError:
        assert turn is not None and turn.command is not None
        args = {
            key: f"<an int of {value.bit_length():,} bits>" if isinstance(value, int) else value
            for key, value in turn.command.args.items()
        }
        return repr(replace(turn, command=replace(turn.command, args=args)))


class Apologies(logging.Handler):
    """Counts what the agent logged as caught failures (apology.py logs each in full)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@dataclass(frozen=True)
class Marks:
    """The highest id of each table before a turn: what is above it, the turn added."""

    message: int
    artifact: int
    user: int
    conversation: int


class Harness:
    """One agent, and the checks each turn through it must pass."""

    def __init__(self, workshop: Workshop, *, scan_every: int = 1) -> None:
        self.workshop = workshop
        self.tools = tuple(workshop.studio.tools.values())
        self.tally = Tally()
        self._scan_every = scan_every  # how often the media store is listed (it grows)
        self._apologies = Apologies()
        logging.getLogger("agent").addHandler(self._apologies)

    def close(self) -> None:
        logging.getLogger("agent").removeHandler(self._apologies)

    async def attempt(self, turn: Turn) -> list[str]:
        """One turn through the agent; the problems found, also counted in the tally."""
        self.tally.inputs += 1
        problems: list[tuple[str, str]] = []
        before = await self._marks()
        logged = len(self._apologies.records)
        try:
            reply = await asyncio.wait_for(self.workshop.agent.respond(turn), TURN_TIMEOUT_S)
        except Exception as error:  # noqa: BLE001 - what the fuzz is looking for
            problems.append(("unhandled", _last_frames(error)))
        else:
            if isinstance(reply, Reply):
                self.tally.longest_reply = max(self.tally.longest_reply, len(reply.text))
            problems += _reply_problems(reply)
            problems += await self._stored_problems(turn, reply, before)
        problems += self._apologised(logged)
        if self.tally.inputs % self._scan_every == 0:
            problems += await self.stray_files()
        for kind, detail in problems:
            self._count(kind, turn, detail)
        return [f"{kind}: {detail}" for kind, detail in problems]

    async def finish(self) -> list[str]:
        """The last scan of the media store, counted like the others."""
        problems = await self.stray_files()
        for kind, detail in problems:
            self._count(kind, None, detail)
        return [f"{kind}: {detail}" for kind, detail in problems]

    def _count(self, kind: str, turn: Turn | None, detail: str) -> None:
        counters = {"unhandled", "half_stored", "unclean", "bad_replies", "apologies"}
        assert kind in counters
        setattr(self.tally, kind, getattr(self.tally, kind) + 1)
        self.tally.keep(kind, turn, detail)

    def _apologised(self, logged: int) -> list[tuple[str, str]]:
        return [
            ("apologies", f"{record.getMessage()}: {_cause(record)}")
            for record in self._apologies.records[logged:]
        ]

    async def _marks(self) -> Marks:
        async with self.workshop.sessions() as session:
            highest = [
                (await session.execute(select(func.max(column)))).scalar() or 0
                for column in (Message.id, Artifact.id, User.id, Conversation.id)
            ]
        return Marks(*highest)

    async def _stored_problems(
        self, turn: Turn, reply: Reply, before: Marks
    ) -> list[tuple[str, str]]:
        async with self.workshop.sessions() as session:
            new = await _new_rows(session, before)
            files = await _files_of(session, [artifact.id for artifact in new.artifacts])
        if not reply.stored and any("upload" in a.params for a in new.artifacts):
            self.tally.kept_uploads += 1
        problems = _half_stored(turn, reply, new, files, self.workshop)
        problems += [("unclean", text) for text in new.unclean()]
        return problems

    async def stray_files(self) -> list[tuple[str, str]]:
        """Files in the media store that no piece points at (a temporary file included)."""
        async with self.workshop.sessions() as session:
            paths = union(select(Artifact.media_path), select(ArtifactFile.path))
            referenced = set((await session.execute(paths)).scalars())
        root = self.workshop.media.root
        strays = [
            path.relative_to(root).as_posix()
            for path in self.workshop.media_files()
            if path.relative_to(root).as_posix() not in referenced
        ]
        return [("half_stored", f"a file with no piece: {path}") for path in strays]


@dataclass(frozen=True)
class NewRows:
    messages: list[Message]
    artifacts: list[Artifact]
    users: list[User]
    conversations: list[Conversation]

    def unclean(self) -> list[str]:
        """Stored texts with a NUL or a lone surrogate; a person's texts not cleaned."""
        said = [m.content for m in self.messages if m.role == Role.USER]
        theirs = [
            *said,
            *(text for user in self.users for text in (user.external_id, user.display_name)),
            *(c.channel_id or "" for c in self.conversations),
            *(c.guild_id or "" for c in self.conversations),
        ]
        stored = [
            *theirs,
            *(m.content for m in self.messages),
            *(text for a in self.artifacts for text in (a.prompt, a.text or "")),
        ]
        found = [f"not clean: {excerpt(repr(t))}" for t in theirs if clean_text(t) != t]
        return found + [f"not storable: {excerpt(repr(t))}" for t in stored if not _storable(t)]


async def _new_rows(session: AsyncSession, before: Marks) -> NewRows:
    async def above(model: type, mark: int) -> list:  # type: ignore[type-arg]
        query = select(model).where(model.id > mark).order_by(model.id)  # type: ignore[attr-defined]
        return list((await session.execute(query)).scalars())

    return NewRows(
        messages=await above(Message, before.message),
        artifacts=await above(Artifact, before.artifact),
        users=await above(User, before.user),
        conversations=await above(Conversation, before.conversation),
    )


async def _files_of(session: AsyncSession, artifact_ids: list[int]) -> list[ArtifactFile]:
    if not artifact_ids:
        return []
    query = select(ArtifactFile).where(ArtifactFile.artifact_id.in_(artifact_ids))
    return list((await session.execute(query)).scalars())


def _half_stored(
    turn: Turn, reply: Reply, new: NewRows, files: list[ArtifactFile], workshop: Workshop
) -> list[tuple[str, str]]:
    problems = []
    made = [artifact for artifact in new.artifacts if "upload" not in artifact.params]
    if not reply.stored and (new.messages or made):
        kept = f"{len(new.messages)} messages, {len(made)} pieces"
        problems.append(f"refused ({excerpt(reply.text)}) yet kept {kept}")
    if reply.stored and turn.command is None and not new.messages:
        problems.append(f"said stored ({excerpt(reply.text)}) but no message was")
    problems += _unanswered(new.messages)
    media = workshop.media
    for artifact in new.artifacts:
        if artifact.media_path is not None and not media.path(artifact.media_path).is_file():
            problems.append(f"#{artifact.id} has no file {artifact.media_path}")
    problems += [f"#{f.artifact_id}'s {f.name} is missing" for f in files if _missing(workshop, f)]
    return [("half_stored", problem) for problem in problems]


def _unanswered(messages: list[Message]) -> list[str]:
    """A person's message with no reply after it in its conversation (among this turn's)."""
    last: dict[int, Message] = {}
    for message in messages:
        last[message.conversation_id] = message
    return [
        f"message {m.id} ({excerpt(m.content)}) stored with no reply"
        for m in last.values()
        if m.role == Role.USER
    ]


def _missing(workshop: Workshop, kept: ArtifactFile) -> bool:
    return not workshop.media.path(kept.path).is_file()


def _reply_problems(reply: object) -> list[tuple[str, str]]:
    if not isinstance(reply, Reply):
        return [("bad_replies", f"not a Reply: {excerpt(repr(reply))}")]
    problems = []
    if len(reply.text) >= REPLY_LIMIT:
        problems.append(f"{len(reply.text):,} characters: {excerpt(reply.text)}")
    if not _storable(reply.text):
        problems.append(f"cannot be sent: {excerpt(repr(reply.text))}")
    return [("bad_replies", problem) for problem in problems]


def _storable(text: str) -> bool:
    """What PostgreSQL's text and Discord's JSON take: UTF-8 with no NUL."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return "\x00" not in text


def _last_frames(error: BaseException) -> str:
    frames = traceback.format_exception(error)
    return "".join(frames[-3:]).strip()[-1500:]


def _cause(record: logging.LogRecord) -> str:
    if record.exc_info and record.exc_info[1] is not None:
        error = record.exc_info[1]
        return f"{type(error).__name__}: {excerpt(str(error), 200)}"
    return "no exception"


def run_fuzz(
    harness: Harness,
    loop: asyncio.AbstractEventLoop,
    *,
    examples: int,
    derandomize: bool,
    seed: int | None = None,
    strict: bool = False,
) -> Tally:
    """Hypothesis generates `examples` Turns; each runs on `loop` (where the agent lives)
    while this thread waits. Strict: the first problem fails the example, and Hypothesis
    shrinks the input; otherwise every problem is counted and the run goes on."""
    phases = (Phase.explicit, Phase.generate) + ((Phase.shrink,) if strict else ())

    @settings(
        max_examples=examples,
        deadline=None,
        derandomize=derandomize,
        database=None,
        phases=phases,
        suppress_health_check=list(HealthCheck),
    )
    @given(turns(harness.tools))
    def property_(turn: Turn) -> None:
        future = asyncio.run_coroutine_threadsafe(harness.attempt(turn), loop)
        problems = future.result()
        if strict and problems:
            raise AssertionError("\n".join(problems))

    if seed is not None:
        property_ = hypothesis_seed(seed)(property_)
    property_()
    return harness.tally
