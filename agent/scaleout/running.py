"""One job on a worker: from its message to its result, acknowledged last.

The job runs through the worker's own Jobs, so its model work joins the scheduler's line and
batches with the other jobs this worker holds. While it runs, the worker tells JetStream it is
still at it every third of ack_wait (a worker that dies stops saying so, and the job goes to
another), and looks in the cancelled bucket. Its media is stored (media.py), its result
published to the asking bot's results subject, and only then is the job acknowledged: a crash
anywhere before that hands the job to another worker, and a result published twice (the first
worker died between publishing and acknowledging) is dropped by its Nats-Msg-Id.

A job delivered for the last allowed time is not run again: it crashed every worker that took
it, so the person is told so and the job is acknowledged. That is how a poisoned job stops.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import tempfile
import threading
import time
import zlib
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.errors import KeyNotFoundError
from nats.js.kv import KeyValue
from pydantic import ValidationError

from agent.busy import Busy
from agent.jobs import Jobs, ToolTimedOut, TooManyJobs
from agent.scaleout.carrying import draft_ref, focus_from
from agent.scaleout.envelope import JobEnvelope, Outcome, ProgressNote, ResultEnvelope
from agent.scaleout.media import MediaMover
from agent.scaleout.setup import Transport, describe
from agent.store.media import MediaCorrupted
from tools.contract import (
    ArtifactDraft,
    Cancelled,
    FocusArtifact,
    ModelSource,
    Tool,
    ToolContext,
    ToolRefused,
    UploadRejected,
)
from tools.models.specs import ModelUnavailable

logger = logging.getLogger(__name__)

PROGRESS_EVERY_S = 1.0
PUBLISH_TRIES = 3
REFUSALS = (ToolRefused, ModelUnavailable, ToolTimedOut, TooManyJobs, Busy, UploadRejected)


@dataclass
class Held:
    """A job this worker holds, from its pull to its acknowledgement (or hand-back)."""

    message: Msg
    cancelled: threading.Event = field(default_factory=threading.Event)
    job_id: int | None = None
    handed_back: bool = False  # the worker is stopping and gave it back: publish nothing


@dataclass(frozen=True)
class WorkerParts:
    """What every job on this worker uses."""

    transport: Transport
    worker_id: str
    client: Client
    js: JetStreamContext
    jobs: Jobs
    tools: Mapping[str, Tool]
    models: ModelSource
    media: MediaMover
    cancelled: KeyValue


async def handle(parts: WorkerParts, held: Held) -> None:
    """Run the held job and answer it; never raises (a worker goes on after any job)."""
    try:
        envelope = JobEnvelope.model_validate_json(held.message.data)
    except ValidationError as exc:
        logger.error("a malformed job was dropped: %s", describe(exc))
        await held.message.term()
        return
    held.job_id = envelope.job_id
    try:
        result = await _result(parts, held, envelope)
    except Exception as exc:  # noqa: BLE001 - said to the person as a failure, kept in the log
        logger.exception("job %d failed on this worker", envelope.job_id)
        result = _answer(parts, envelope, "failed", f"{type(exc).__name__}: {describe(exc)}")
    if held.handed_back:
        return
    if await _publish(parts, envelope, result):
        await _acknowledge(held.message)
    elif not held.handed_back:
        await held.message.nak()  # not told: another worker (or this one) tries again


async def _result(parts: WorkerParts, held: Held, envelope: JobEnvelope) -> ResultEnvelope:
    delivered = held.message.metadata.num_delivered
    if delivered >= parts.transport.max_deliver:
        return _answer(parts, envelope, "gave_up", _gave_up_line(envelope, delivered - 1))
    if await _called_off(parts, envelope.job_id):
        return _answer(parts, envelope, "cancelled", "Cancelled; nothing was stored.")
    tool = parts.tools.get(envelope.tool)
    if tool is None:
        line = f"No worker here runs the {envelope.tool} tool; nothing was made."
        return _answer(parts, envelope, "refused", line)
    try:
        args = tool.args.model_validate(envelope.args)
    except ValidationError as exc:
        return _answer(parts, envelope, "refused", f"The {tool.name} job was malformed: {exc}")
    heartbeat = asyncio.create_task(_keep_alive(parts, held, envelope.job_id))
    try:
        return await _run(parts, held, envelope, tool, args)
    finally:
        heartbeat.cancel()


async def _run(
    parts: WorkerParts, held: Held, envelope: JobEnvelope, tool: Tool, args: object
) -> ResultEnvelope:
    scratch = Path(await asyncio.to_thread(tempfile.mkdtemp, prefix="atelier-job-"))
    started = time.monotonic()
    try:
        context = ToolContext(
            models=parts.models,
            settings=envelope.settings,
            progress=_throttled_progress(parts, envelope.job_id),
            cancelled=held.cancelled,
            focus=await focus_from(parts.media, envelope.focus, scratch),
            kept=envelope.kept,
            style=envelope.style,
            sources=await _sources_from(parts, envelope, scratch),
            personal_style=await focus_from(parts.media, envelope.personal_style, scratch),
            voice=envelope.voice,
        )
        owner = _owner_key(envelope.owner)
        draft = await parts.jobs.run(owner, tool, args, context, group=envelope.group)  # type: ignore[arg-type]
    except Cancelled:
        return _answer(parts, envelope, "cancelled", "Cancelled; nothing was stored.")
    except (*REFUSALS, MediaCorrupted) as refusal:
        return _answer(parts, envelope, "refused", str(refusal))
    finally:
        await asyncio.to_thread(shutil.rmtree, scratch, True)
    seconds = time.monotonic() - started
    if held.cancelled.is_set():  # called off as it finished: nothing is stored
        return _answer(parts, envelope, "cancelled", "Cancelled; nothing was stored.")
    return await _made(parts, envelope, draft, seconds)


async def _sources_from(
    parts: WorkerParts, envelope: JobEnvelope, scratch: Path
) -> tuple[FocusArtifact, ...]:
    """The pieces the run draws on (a style's pictures), their files on this machine."""
    views = [await focus_from(parts.media, one, scratch) for one in envelope.sources]
    return tuple(view for view in views if view is not None)


async def _made(
    parts: WorkerParts, envelope: JobEnvelope, draft: ArtifactDraft, seconds: float
) -> ResultEnvelope:
    return ResultEnvelope(
        job_id=envelope.job_id,
        worker_id=parts.worker_id,
        outcome="made",
        draft=await draft_ref(parts.media, draft, envelope.job_id),
        tool_seconds=seconds,
    )


def _answer(
    parts: WorkerParts, envelope: JobEnvelope, outcome: Outcome, line: str
) -> ResultEnvelope:
    return ResultEnvelope(
        job_id=envelope.job_id, worker_id=parts.worker_id, outcome=outcome, message=line
    )


def _gave_up_line(envelope: JobEnvelope, crashes: int) -> str:
    times = "once" if crashes == 1 else f"{crashes} times"
    return f"The {envelope.tool} job crashed the worker {times}; nothing was made."


async def _called_off(parts: WorkerParts, job_id: int) -> bool:
    try:
        await parts.cancelled.get(str(job_id))
    except KeyNotFoundError:
        return False
    return True


async def _keep_alive(parts: WorkerParts, held: Held, job_id: int) -> None:
    """'Still at it' to JetStream every third of ack_wait, and a look for a cancel that the
    plain subject may have missed (sent while this worker was reconnecting)."""
    every = parts.transport.ack_wait_s / 3
    while True:
        await asyncio.sleep(every)
        try:
            await held.message.in_progress()
            if await _called_off(parts, job_id):
                held.cancelled.set()
        except Exception as exc:  # noqa: BLE001 - NATS away a moment: try at the next beat
            logger.debug("job %d's heartbeat: %s", job_id, describe(exc))


def _throttled_progress(parts: WorkerParts, job_id: int):  # noqa: ANN202 - a Progress
    """The tool's progress (from its thread) published at most once a second."""
    loop = asyncio.get_running_loop()
    subject = parts.transport.names.progress(job_id)
    last = [float("-inf")]

    def on_loop(fraction: float, label: str) -> None:
        now = time.monotonic()
        if now - last[0] < PROGRESS_EVERY_S:
            return
        last[0] = now
        note = ProgressNote(job_id=job_id, fraction=min(max(fraction, 0.0), 1.0), label=label)
        loop.create_task(_send(parts.client, subject, note.model_dump_json().encode()))

    def report(fraction: float, label: str) -> None:
        loop.call_soon_threadsafe(on_loop, fraction, label)

    return report


async def _send(client: Client, subject: str, payload: bytes) -> None:
    try:
        await client.publish(subject, payload)
    except Exception as exc:  # noqa: BLE001 - progress is worth nothing late
        logger.debug("progress: %s", describe(exc))


async def _publish(parts: WorkerParts, envelope: JobEnvelope, result: ResultEnvelope) -> bool:
    names = parts.transport.names
    subject = names.result(envelope.bot_id, envelope.job_id)
    headers = {"Nats-Msg-Id": names.result_message_id(envelope.job_id)}
    for attempt in range(1, PUBLISH_TRIES + 1):
        try:
            await parts.js.publish(subject, result.model_dump_json().encode(), headers=headers)
            return True
        except Exception as exc:  # noqa: BLE001 - NATS away: a moment, then again
            logger.warning(
                "publishing job %d's result (try %d): %s", envelope.job_id, attempt, describe(exc)
            )
            await asyncio.sleep(attempt)
    return False


async def _acknowledge(message: Msg) -> None:
    try:
        await message.ack_sync()
    except Exception as exc:  # noqa: BLE001 - redelivered, rerun, its result dropped as a duplicate
        logger.warning("could not acknowledge a job: %s", describe(exc))


def _owner_key(owner: str) -> Hashable:
    """The person as the scheduler's fairness key (a number, as in the bot)."""
    return int(owner) if owner.lstrip("-").isdigit() else zlib.crc32(owner.encode())
