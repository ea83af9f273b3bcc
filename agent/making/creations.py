"""Making something with a tool for a turn, and keeping it.

The tool runs with no transaction open (it may take minutes). What it made is then stored in
one transaction with the person's message and the reply that presents it: the media file is
written first, under its content hash, and removed again if that transaction fails, so a
failure never leaves an artifact row or a file that nothing points to.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agent.jobs import Jobs, ToolTimedOut, TooManyJobs
from agent.making.uploads import Upload, keep_uploads
from agent.store.artifacts import add_artifact, kept_params, listing_line
from agent.store.db import Artifact, Role
from agent.store.media import MediaStore, StoredMedia
from agent.store.memory import Memory
from agent.types import MadeArtifact, ProgressSink, Reply
from tools.contract import (
    ArtifactDraft,
    ArtifactKind,
    FocusArtifact,
    Media,
    ModelSource,
    Progress,
    Tool,
    ToolArgs,
    ToolContext,
    ToolRefused,
    no_progress,
)
from tools.models.loading import ModelUnavailable

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Request:
    """One tool run asked for in a turn, with who asked and where."""

    tool: Tool
    args: ToolArgs
    user_id: int
    conversation_id: int
    said: str  # the person's message as typed, stored with the result
    focus: Artifact | None = None
    # False when the message is already stored (a second tool call in the same turn).
    keep_said: bool = True
    progress: ProgressSink | None = None


class Creations:
    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        memory: Memory,
        media: MediaStore,
        jobs: Jobs,
        models: ModelSource,
        tool_settings: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        self._sessions = sessions
        self._memory = memory
        self._media = media
        self._jobs = jobs
        self._models = models
        self._tool_settings = tool_settings or {}

    @property
    def media(self) -> MediaStore:
        return self._media

    async def make(self, request: Request) -> Reply:
        tool = request.tool
        context = await self._context(request)
        try:
            draft = await self._jobs.run(request.user_id, tool, request.args, context)
            if draft.kind is not tool.kind:
                raise TypeError(f"the {tool.name} tool returned a {draft.kind}")
        except (TooManyJobs, ToolTimedOut, ModelUnavailable, ToolRefused) as refusal:
            return Reply(str(refusal), stored=False)
        except Exception:  # noqa: BLE001 - any tool failure becomes a message; the log keeps all
            reference = secrets.token_hex(4)
            logger.exception("tool %s failed (ref %s)", tool.name, reference)
            return Reply(
                f"Sorry, the {tool.name} tool failed (ref {reference}). Nothing was stored; "
                "the conversation carries on as before.",
                stored=False,
            )
        return await self._keep(request, draft)

    async def _context(self, request: Request) -> ToolContext:
        async with self._sessions() as session:
            kept = await kept_params(session, request.user_id, request.tool.kind.value)
        return ToolContext(
            models=self._models,
            settings=self._tool_settings.get(request.tool.name, {}),
            progress=_on_event_loop(request.progress),
            focus=None if request.focus is None else focus_view(request.focus, self._media),
            kept=tuple(kept),
        )

    async def _keep(self, request: Request, draft: ArtifactDraft) -> Reply:
        drafts = (draft, *draft.parts)
        stored = [self._store_files(d) for d in drafts]
        try:
            artifacts = await self._store(request, drafts, stored)
        except IntegrityError:
            # The conversation (and so the piece built on) was deleted while the tool ran.
            artifacts = None
        except BaseException:
            self._discard(stored)
            raise
        if artifacts is None:
            self._discard(stored)
            return Reply(
                "This conversation was forgotten meanwhile; nothing was kept.", stored=False
            )
        made = tuple(self._made(artifact) for artifact in artifacts)
        said = "\n\n".join(part for part in (draft.text, draft.note) if part)
        return Reply(said, artifacts=made)

    async def keep_uploads(
        self, uploads: Sequence[Upload], user_id: int, conversation_id: int, said: str
    ) -> Reply:
        """Files sent with nothing asked of them: kept as pieces, with the message, so the
        next request ("a variation", "critique it") can build on them."""
        async with self._sessions() as session, session.begin():
            kept = await keep_uploads(
                session, self._media, uploads, user_id=user_id, conversation_id=conversation_id
            )
            numbers = ", ".join(f"#{artifact.id}" for artifact in kept)
            answer = f"Kept {numbers}. Ask for a variation, a critique, or something new from it."
            messages = (
                self._memory.draft(Role.USER, said, author_id=user_id),
                self._memory.draft(Role.ASSISTANT, answer, artifact_id=kept[-1].id),
            )
            await self._memory.append(session, conversation_id, *messages)
        made = tuple(self._made(artifact) for artifact in kept)
        return Reply(answer, artifacts=made)

    def _made(self, artifact: Artifact) -> MadeArtifact:
        media = artifact.media_path
        return MadeArtifact(
            number=artifact.id,
            kind=artifact.kind,
            line=listing_line(artifact, self._media),
            media_path=None if media is None else self._media.path(media),
            files={file.name: self._media.path(file.path) for file in artifact.files},
        )

    def _store_files(self, draft: ArtifactDraft) -> StoredFiles:
        """The draft's media and kept files, written to the media store before the row."""
        media = None if draft.media is None else self._put(draft.media)
        return StoredFiles(media, {name: self._put(m) for name, m in draft.files.items()})

    def _put(self, media: Media) -> StoredMedia:
        return self._media.put(media.data, media.mime_type)

    def _discard(self, stored: Sequence[StoredFiles]) -> None:
        for files in stored:
            for one in files.every():
                self._media.discard(one)

    async def _store(
        self,
        request: Request,
        drafts: Sequence[ArtifactDraft],
        stored: Sequence[StoredFiles],
    ) -> list[Artifact] | None:
        """The drafts as artifacts, with the person's message and the reply, in one
        transaction; None when the conversation is gone."""
        arguments = request.args.model_dump(mode="json")
        said = self._memory.draft(Role.USER, request.said, author_id=request.user_id)
        shown = self._memory.draft(
            Role.ASSISTANT,
            _summary_line(request.tool, drafts[0]),
            tool_name=request.tool.name,
            tool_args=arguments,
        )
        async with self._sessions() as session, session.begin():
            artifacts = [
                await add_artifact(
                    session,
                    conversation_id=request.conversation_id,
                    creator_id=request.user_id,
                    draft=draft,
                    prompt=_prompt_of(request),
                    parent=request.focus if draft.from_focus else None,
                    media=files.media,
                    files=files.named,
                )
                for draft, files in zip(drafts, stored, strict=True)
            ]
            shown = replace(shown, artifact_id=artifacts[0].id)
            kept = (said, shown) if request.keep_said else (shown,)
            if not await self._memory.append(session, request.conversation_id, *kept):
                await session.rollback()
                return None
        return artifacts


@dataclass(frozen=True)
class StoredFiles:
    """What one draft wrote to the media store: its media, and its named files."""

    media: StoredMedia | None
    named: dict[str, StoredMedia]

    def every(self) -> list[StoredMedia]:
        return [*([self.media] if self.media else []), *self.named.values()]


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


def _prompt_of(request: Request) -> str:
    text_arg = request.tool.text_arg
    value = getattr(request.args, text_arg, None) if text_arg else None
    return str(value) if value is not None else request.said


def _summary_line(tool: Tool, draft: ArtifactDraft) -> str:
    # What the chat model later sees of this turn: enough to talk about the piece.
    body = (draft.text or "").strip()
    return f"[made a {tool.kind.value}]\n{body}" if body else f"[made a {tool.kind.value}]"
