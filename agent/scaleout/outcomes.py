"""A result as the bot's caller sees it: the draft with its bytes in hand, or the exception a
local run would have raised (agent/making/studio.py answers each as it always does)."""

from __future__ import annotations

from agent.scaleout.carrying import draft_from, refs_of_draft
from agent.scaleout.envelope import DraftRef, ResultEnvelope
from agent.scaleout.media import MediaMover
from tools.contract import ArtifactDraft, Cancelled, ToolRefused


class RemoteToolFailed(Exception):
    """The tool raised on the worker: the studio's apology, with the worker's line logged."""


async def draft_or_raise(media: MediaMover, result: ResultEnvelope, tool: str) -> ArtifactDraft:
    """The draft made; Cancelled, ToolRefused (a refusal, or a job given up) or
    RemoteToolFailed otherwise."""
    if result.outcome == "made" and result.draft is not None:
        return await read_once(media, result.draft)
    line = result.message or f"the {tool} tool stopped on its worker"
    if result.outcome == "cancelled":
        raise Cancelled()
    if result.outcome in ("refused", "gave_up"):
        raise ToolRefused(line)
    raise RemoteToolFailed(f"on worker {result.worker_id}: {line}")


async def read_once(media: MediaMover, ref: DraftRef) -> ArtifactDraft:
    """The draft's bytes, checked; its objects (object mode) deleted once read."""
    try:
        return await draft_from(media, ref)
    finally:
        await media.delete(refs_of_draft(ref))
