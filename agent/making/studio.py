"""The studio: runs one tool for a turn on the piece in focus, and writes what it made to disk.

The turn pipeline (agent/turns.py) decides which tool and with which Args; the studio only
carries it out. The tool runs through the job limits with no transaction open (it may take
minutes); its media is then hashed, written and fsynced in a thread, still outside any
transaction. Nothing is stored in the database here: agent/writes.py stores every
piece of a turn, with its messages, in one transaction, and removes these files again if that
fails. A refusal or a failure comes back as a Reply of one line, with nothing written.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

from agent.apology import apology
from agent.busy import Busy
from agent.cancelling.command import CANCELLED
from agent.cancelling.running import Cancellable, JobOwner, RunningJobs
from agent.jobs import Jobs, ToolTimedOut, TooManyJobs
from agent.ledger.record import JobLedger
from agent.ledger.timing import RunClock
from agent.making.files import StoredFiles, discard_files, write_files
from agent.scope import Scope
from agent.store.db import Artifact
from agent.store.media import MediaStore
from agent.styles.resolution import draws_on_anything
from agent.types import Command, ProgressSink, Reply, RunningJob, ShowsJobs
from tools.contract import (
    ArtifactDraft,
    ArtifactKind,
    Cancelled,
    FocusArtifact,
    ModelSource,
    Progress,
    Tool,
    ToolArgs,
    ToolContext,
    ToolRefused,
    no_progress,
)
from tools.models.specs import ModelUnavailable

logger = logging.getLogger(__name__)

NOT_DRAWN = "The {tool} tool needs your pieces, styles or poems, which I cannot read here."
DrawnOn = Callable[[Scope, ToolArgs], Awaitable[Scope | Reply]]


@dataclass(frozen=True, kw_only=True)
class Request:
    """One tool run a turn asks for: which tool, its validated Args, and the piece it builds
    on (the scope's focus, or for a revision the piece revised)."""

    tool: Tool
    args: ToolArgs
    scope: Scope
    focus: Artifact | None
    progress: ProgressSink | None = None
    said: str | None = None  # the person's words, kept with its job (agent/ledger/)


@dataclass(frozen=True, kw_only=True)
class Made:
    """What one run made, its files already in the media store, not yet in the database."""

    request: Request
    draft: ArtifactDraft
    files: tuple[StoredFiles, ...]  # one per draft: the piece itself, then its parts
    # Its ledger row, still running: storing the piece makes it done (agent/ledger/claim.py).
    job: int | None = None
    tool_seconds: float = 0.0

    @property
    def drafts(self) -> tuple[ArtifactDraft, ...]:
        return (self.draft, *self.draft.parts)

    @property
    def seen_by_the_model(self) -> str:
        return seen_by_the_model(self.draft)


def seen_by_the_model(draft: ArtifactDraft) -> str:
    """What the chat model is told of a piece, then and in later turns: its kind and its
    text, enough to talk about it; never a file's path."""
    kind, text = draft.kind.value, (draft.text or "").strip()
    return f"[made a {kind}]\n{text}" if text else f"[made a {kind}]"


class Studio:
    def __init__(
        self,
        *,
        tools: Sequence[Tool],
        jobs: Jobs,
        models: ModelSource,
        media: MediaStore,
        tool_settings: Mapping[str, Mapping[str, Any]] | None = None,
        ledger: JobLedger | None = None,
    ) -> None:
        self.tools = {tool.name: tool for tool in tools}
        self._ledger = ledger  # records each run as a job and checks the quotas first
        self.media = media
        self._jobs = jobs
        self._models = models
        self._tool_settings = tool_settings or {}
        self.running = RunningJobs()  # what /cancel stops (agent/cancelling/)
        self._drawn_on: DrawnOn | None = None

    def draw_with(self, drawn_on: DrawnOn) -> None:
        """How a run's scope gets what its Args draw on when it was resolved before they
        were known (free text, a tool-calling model, a session's round): Scopes.drawn_on."""
        self._drawn_on = drawn_on

    def handles(self, command: Command) -> bool:
        return command.name in self.tools

    @contextmanager
    def place_for(self, command: Command | None) -> Iterator[Reply | None]:
        """While a turn runs: when `command` runs a tool, its place in everyone's queue
        (agent/jobs.py `Jobs.place_for`), or the busy line when there is none; else None."""
        tool = None if command is None else self.tools.get(command.name)
        if tool is None:
            yield None
            return
        with self._jobs.place_for(tool) as busy:
            yield None if busy is None else Reply(str(busy), stored=False)

    async def run(self, request: Request) -> Made | Reply:
        """The tool's draft with its files written, or a one-line Reply saying why not (a
        quota reached among them). With a ledger the run is a job on disk meanwhile."""
        refused = request.scope.rules.refusal(request.args, request.scope.style)
        if refused is not None:  # the server's blocklist (agent/policy/), before any job counts
            return Reply(refused, stored=False)
        drawn = await self._with_draws(request)
        if isinstance(drawn, Reply):  # not their picture, no such style: before any job
            return drawn
        request = drawn
        if self._ledger is None:
            with self._cancellable(request, self.running.new_id()) as run:
                return await self._run(request, RunClock(), run)
        focus_id = None if request.focus is None else request.focus.id
        job = await self._ledger.start(
            request.scope, request.tool, request.args, focus_id=focus_id, said=request.said
        )
        if isinstance(job, Reply):  # over a quota: nothing started, nothing stored
            return job
        clock = RunClock()
        outcome: Made | Reply | None = None
        with self._cancellable(request, job) as run:
            try:
                outcome = await self._run(request, clock, run)
            finally:
                cancelled = run.close()  # past cancelling from here: its end is recorded
                if not isinstance(outcome, Made):  # a piece's job ends when it is stored
                    await self._ledger.finish(job, run=clock, cancelled=cancelled)
        if isinstance(outcome, Made):
            return replace(outcome, job=job, tool_seconds=clock.seconds())
        return outcome

    async def _with_draws(self, request: Request) -> Request | Reply:
        """The request with what its Args draw on (agent/styles/resolution.py), read once."""
        if request.scope.drawn_for == request.args or not draws_on_anything(request.args):
            return request
        if self._drawn_on is None:  # never a run that silently lacks what it asked for
            return Reply(NOT_DRAWN.format(tool=request.tool.name), stored=False)
        scope = await self._drawn_on(request.scope, request.args)
        return scope if isinstance(scope, Reply) else replace(request, scope=scope)

    @contextmanager
    def _cancellable(self, request: Request, job: int) -> Iterator[Cancellable]:
        """The run registered for /cancel while it is in the works; the transport is told
        its job, so it can offer a Cancel button."""
        shared = request.scope.shared
        owner = JobOwner(request.scope.user_id, None if shared is None else shared.session_id)
        with self.running.running(job, owner, request.tool.name) as run:
            if isinstance(request.progress, ShowsJobs):
                request.progress.job_started(RunningJob(job, request.tool.name))
            yield run

    async def _run(self, request: Request, clock: RunClock, run: Cancellable) -> Made | Reply:
        tool = request.tool
        context = replace(self._context(request), cancelled=run.flag)
        try:
            with clock.counting():  # a run on a worker reports its seconds to the clock
                draft = await run.guard(
                    self._jobs.run(
                        request.scope.user_id,
                        run.tool(clock.timing(tool)),
                        request.args,
                        context,
                        group=request.scope.conversation_id,  # fair across a person's sessions
                    )
                )
            if draft.kind is not tool.kind:
                raise TypeError(f"the {tool.name} tool returned a {draft.kind}")
        except Cancelled:
            return Reply(CANCELLED, stored=False)
        except (TooManyJobs, Busy, ToolTimedOut, ModelUnavailable, ToolRefused) as refusal:
            return Reply(str(refusal), stored=False)
        except Exception:  # noqa: BLE001 - any tool failure becomes a message; the log keeps all
            return apology(
                logger,
                what_failed=f"tool {tool.name} failed",
                said=f"Sorry, the {tool.name} tool failed",
                after="Nothing was stored; the conversation carries on as before.",
            )
        files = await write_files(self.media, (draft, *draft.parts))
        if run.close():  # called off as it finished: what it made goes
            await discard_files(self.media, files)
            return Reply(CANCELLED, stored=False)
        return Made(request=request, draft=draft, files=files)

    async def discard(self, made: Sequence[Made], *, keep_files: bool = False) -> None:
        """Runs whose pieces were not stored: their jobs failed (if still running), and their
        files removed, unless `keep_files` (their job's piece was stored by another, maybe
        from these very files; a file nothing points at goes at the start-up sweep)."""
        if not keep_files:
            await discard_files(self.media, [files for one in made for files in one.files])
        if self._ledger is not None:
            for one in made:
                if one.job is not None:
                    await self._ledger.unstored(one.job, tool_seconds=one.tool_seconds)

    def _context(self, request: Request) -> ToolContext:
        tool, focus = request.tool, request.focus
        return ToolContext(
            models=self._models,
            # With what the server's policy adds here (an image tool's strict rule).
            settings=request.scope.rules.tool_settings(
                tool, self._tool_settings.get(tool.name, {})
            ),
            progress=_on_event_loop(request.progress),
            focus=None if focus is None else focus_view(focus, self.media),
            kept=request.scope.kept(tool.kind),
            style=request.scope.style,
            **self._draws_of(request),
        )

    def _draws_of(self, request: Request) -> dict[str, Any]:
        """What the run draws on besides its focus, when the scope was drawn for its Args
        (agent/styles/resolution.py); nothing otherwise, so no run sees another's."""
        scope = request.scope
        if scope.drawn_for != request.args:
            return {}
        draws, media = scope.draws, self.media
        style = draws.personal_style
        return {
            "sources": tuple(focus_view(piece, media) for piece in draws.sources),
            "personal_style": None if style is None else focus_view(style, media),
            "voice": draws.voice,
        }


def _on_event_loop(sink: ProgressSink | None) -> Progress:
    """A progress callback the tool's worker thread can call: it hands each report to the
    event loop, where transports live, and keeps fractions within 0-1."""
    if sink is None:
        return no_progress
    loop = asyncio.get_running_loop()

    def report(fraction: float, label: str) -> None:
        loop.call_soon_threadsafe(sink, min(max(fraction, 0.0), 1.0), label)

    return report


def focus_view(artifact: Artifact, media: MediaStore) -> FocusArtifact:
    """The piece in focus as a tool sees it: its files as paths a tool may read."""
    return FocusArtifact(
        files={file.name: media.path(file.path) for file in artifact.files},
        number=artifact.id,
        kind=ArtifactKind(artifact.kind),
        prompt=artifact.prompt,
        text=artifact.text,
        media_path=None if artifact.media_path is None else media.path(artifact.media_path),
        mime_type=artifact.mime_type,
        params=dict(artifact.params),
    )
