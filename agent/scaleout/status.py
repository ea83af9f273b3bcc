"""`atelier status`: the job queue and its workers as NATS holds them, read and never changed.

Queue depth and jobs in flight come from the worker consumers (subjects.py `Names`): a
consumer's num_pending is what waits for a worker of its kind and priority, num_ack_pending
what workers hold now. A kind no worker has ever served has no consumer yet; its queue depth
is the jobs stream's count for its subject. Live workers are the workers bucket's entries
(a WorkerBeat each, gone once a worker misses a few beats). Nothing is created: a status read
on a fresh server leaves it fresh.
"""

from __future__ import annotations

from dataclasses import dataclass

from nats.errors import Error as NatsError
from nats.errors import NoRespondersError
from nats.js import JetStreamContext, JetStreamManager
from nats.js.errors import (
    BucketNotFoundError,
    KeyNotFoundError,
    NoKeysError,
    NotFoundError,
    ServiceUnavailableError,
)
from pydantic import ValidationError

from agent.config import StartupError
from agent.scaleout.envelope import WorkerBeat
from agent.scaleout.setup import NatsUnreachable, Transport, connect
from agent.scaleout.subjects import KINDS, PRIORITIES, JobKind, Names, Priority

STATUS_TIMEOUT_S = 5.0  # each JetStream request; a server that answers nothing is unreachable


@dataclass(frozen=True)
class QueueLine:
    """One kind and priority of jobs."""

    kind: JobKind
    priority: Priority
    queued: int  # waiting for a worker
    in_flight: int  # delivered to a worker, not yet acknowledged
    served: bool  # a worker of this kind has pulled from it (its consumer exists)


@dataclass(frozen=True)
class Snapshot:
    lines: tuple[QueueLine, ...]
    workers: tuple[WorkerBeat, ...]
    unreadable_beats: int  # entries in the workers bucket that are not a WorkerBeat
    has_queue: bool  # the jobs stream exists (a bot or worker has started on this server)


class JetStreamOff(StartupError):
    """NATS answers but without JetStream: one line, exit 3 like NATS unreachable."""

    exit_code = 3

    def __init__(self, transport: Transport) -> None:
        super().__init__(
            f"NATS at {transport.where} answers but JetStream is off: start it with "
            "`nats-server -js`"
        )


async def read_status(transport: Transport) -> Snapshot:
    """What the queue and the workers are doing now; NatsUnreachable or JetStreamOff (both
    StartupError, exit 3) when it cannot be read."""
    try:
        client = await connect(transport, keep_trying=False)
    except Exception as exc:  # noqa: BLE001 - refused, timed out, bad host: the same news
        raise NatsUnreachable(transport, exc) from None
    try:
        js = client.jetstream(timeout=STATUS_TIMEOUT_S)
        return await snapshot(js, client.jsm(timeout=STATUS_TIMEOUT_S), transport.names)
    except (NoRespondersError, ServiceUnavailableError):
        raise JetStreamOff(transport) from None
    except (NatsError, TimeoutError) as exc:  # the server went away mid-read
        raise NatsUnreachable(transport, exc) from None
    finally:
        await client.close()


async def snapshot(js: JetStreamContext, manager: JetStreamManager, names: Names) -> Snapshot:
    try:
        stream = await manager.stream_info(names.jobs_stream, subjects_filter=names.jobs())
    except NotFoundError:
        lines = tuple(QueueLine(k, p, 0, 0, served=False) for k in KINDS for p in PRIORITIES)
        has_queue = False
    else:
        counts = stream.state.subjects or {}
        lines = tuple(
            [await _queue_line(manager, names, k, p, counts) for k in KINDS for p in PRIORITIES]
        )
        has_queue = True
    workers, unreadable = await _workers(js, names)
    return Snapshot(lines, workers, unreadable, has_queue)


async def _queue_line(
    manager: JetStreamManager,
    names: Names,
    kind: JobKind,
    priority: Priority,
    subject_counts: dict[str, int],
) -> QueueLine:
    try:
        info = await manager.consumer_info(names.jobs_stream, names.worker_consumer(kind, priority))
    except NotFoundError:
        waiting = subject_counts.get(names.job(kind, priority), 0)
        return QueueLine(kind, priority, waiting, 0, served=False)
    return QueueLine(kind, priority, info.num_pending or 0, info.num_ack_pending or 0, served=True)


async def _workers(js: JetStreamContext, names: Names) -> tuple[tuple[WorkerBeat, ...], int]:
    """The live workers, by host and id, and how many entries could not be read as one."""
    try:
        bucket = await js.key_value(names.workers_bucket)
        keys = await bucket.keys()
    except (BucketNotFoundError, NoKeysError):
        return (), 0
    beats: list[WorkerBeat] = []
    unreadable = 0
    for key in keys:
        try:
            entry = await bucket.get(key)
        except KeyNotFoundError:  # expired or deleted since it was listed: not alive
            continue
        beat = _beat(entry.value)
        if beat is None:
            unreadable += 1
        else:
            beats.append(beat)
    beats.sort(key=lambda beat: (beat.host, beat.worker_id))
    return tuple(beats), unreadable


def _beat(value: bytes | None) -> WorkerBeat | None:
    """A worker's beat, or None for what is not one (another program's key, an older
    atelier's shape): counted, never a crash."""
    try:
        return WorkerBeat.model_validate_json(value or b"")
    except ValidationError:
        return None
