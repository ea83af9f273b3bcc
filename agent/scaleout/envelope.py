"""A job and its result as they travel on NATS: JSON, validated on arrival.

Intent travels as typed fields: the tool's Args as their JSON, never the words they were read
from. Media never travels inside a message (JetStream caps a message at 1 MB by default): a
MediaRef says where the bytes are, in the shared media directory or in the object store.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from agent.scaleout.subjects import JobKind, Priority
from tools.contract import ArtifactKind


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MediaRef(_Message):
    """Where one file's bytes are: `shared` (a path relative to the shared media root) or
    `object` (a key in the object store bucket); checked against its sha256 when read."""

    where: Literal["shared", "object"]
    key: str
    sha256: str
    mime_type: str


class FocusRef(_Message):
    """The piece in focus (tools/contract.py FocusArtifact), its files as references."""

    number: int
    kind: ArtifactKind
    prompt: str
    text: str | None
    mime_type: str | None
    params: dict[str, Any]
    media: MediaRef | None = None
    files: dict[str, MediaRef] = Field(default_factory=dict)


class JobEnvelope(_Message):
    """One tool run asked of a worker."""

    job_id: int  # the ledger's row: also the message id JetStream deduplicates on
    bot_id: str  # whose results stream the outcome goes to
    tool: str
    kind: JobKind
    priority: Priority = "now"
    args: dict[str, Any]  # the tool's validated Args, as JSON
    settings: dict[str, Any] = Field(default_factory=dict)  # the tool's settings, policy included
    focus: FocusRef | None = None
    kept: tuple[dict[str, Any], ...] = ()
    style: str | None = None
    # What the run draws on besides its focus (ToolContext: a style's pictures, the
    # person's trained style, their own poems), checked by the bot to be theirs.
    sources: tuple[FocusRef, ...] = ()
    personal_style: FocusRef | None = None
    voice: tuple[str, ...] = ()
    # Opaque fairness keys for the worker's scheduler: the person, and their session.
    owner: str
    group: str
    timeout_s: float
    published_at: float  # time.time() at publishing: the worker's queue wait, and latency


class DraftRef(_Message):
    """An ArtifactDraft (tools/contract.py) with its media as references."""

    kind: ArtifactKind
    text: str | None = None
    media: MediaRef | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    from_focus: bool = False
    focus_is_source: bool = False
    note: str | None = None
    files: dict[str, MediaRef] = Field(default_factory=dict)
    parts: tuple[DraftRef, ...] = ()


# made: the draft is there. refused: the tool would not (ToolRefused, ModelUnavailable: the
# message is the person's line). failed: it raised. cancelled: called off. gave_up: the job
# crashed workers until the redelivery limit and was not run again.
Outcome = Literal["made", "refused", "failed", "cancelled", "gave_up"]


class ResultEnvelope(_Message):
    job_id: int
    worker_id: str
    outcome: Outcome
    message: str | None = None  # one line for the person, when not made
    draft: DraftRef | None = None
    tool_seconds: float = 0.0


class ProgressNote(_Message):
    """A job's progress, as ToolContext.progress reports it."""

    job_id: int
    fraction: float
    label: str


class WorkerBeat(_Message):
    """What a live worker says of itself in the workers bucket (`atelier status` reads it)."""

    worker_id: str
    kinds: tuple[JobKind, ...]
    device: str  # "cuda:0 (NVIDIA H100 80GB HBM3)", "cpu"
    host: str
    pid: int
    in_flight: int
    seen_at: float  # time.time()
