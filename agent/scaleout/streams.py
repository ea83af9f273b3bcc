"""The streams, consumers and buckets of a deployment, created where missing and brought up to
date where a setting changed (both sides call this at start, so either may come up first).

  jobs      a work-queue stream: each job is held until one worker acknowledges it; a second
            publish with the same Nats-Msg-Id within the duplicate window is dropped
  results   a work-queue stream, a subject per bot process, read by its durable consumer, so
            results that arrive while that bot restarts wait for it
  consumers one durable pull consumer per kind and priority that every worker of the kind
            shares (ack_wait, max_deliver from the settings), one per bot for its results
  buckets   cancelled (job id -> called off), workers (a WorkerBeat each, gone after a few
            missed beats), and the object store for media when bot and workers share no disk
"""

from __future__ import annotations

from dataclasses import replace

from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    KeyValueConfig,
    ObjectStoreConfig,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)
from nats.js.errors import BucketNotFoundError, NotFoundError
from nats.js.kv import KeyValue
from nats.js.object_store import ObjectStore

from agent.scaleout.setup import BEATS_TO_LIVE, Transport
from agent.scaleout.subjects import JobKind, Priority

DAY_S = 24 * 3600.0
DUPLICATE_WINDOW_S = 120.0  # a publish retried within this is one job
# A job nobody took for a day, a result no bot came back for: dropped, not kept forever.
KEPT_FOR_S = DAY_S


async def ensure_streams(js: JetStreamContext, transport: Transport) -> None:
    """The jobs and results streams, as the settings want them."""
    names = transport.names
    for name, subjects in (
        (names.jobs_stream, [names.jobs()]),
        (names.results_stream, [names.results()]),
    ):
        await _ensure_stream(
            js,
            StreamConfig(
                name=name,
                subjects=subjects,
                retention=RetentionPolicy.WORK_QUEUE,
                storage=StorageType.FILE,
                duplicate_window=DUPLICATE_WINDOW_S,
                max_age=KEPT_FOR_S,
            ),
        )


async def ensure_worker_consumer(
    js: JetStreamContext, transport: Transport, kind: JobKind, priority: Priority
) -> str:
    """The durable consumer every worker of `kind` pulls `priority` jobs from; its name."""
    names = transport.names
    durable = names.worker_consumer(kind, priority)
    await _ensure_consumer(
        js,
        names.jobs_stream,
        ConsumerConfig(
            durable_name=durable,
            filter_subject=names.job(kind, priority),
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=transport.ack_wait_s,
            max_deliver=transport.max_deliver,
            max_ack_pending=-1,
        ),
    )
    return durable


async def ensure_bot_consumer(js: JetStreamContext, transport: Transport) -> str:
    """This bot process's durable consumer of its results (redelivered until acknowledged:
    a result is never dropped for having been tried too often)."""
    names = transport.names
    durable = names.bot_consumer(transport.bot_id)
    await _ensure_consumer(
        js,
        names.results_stream,
        ConsumerConfig(
            durable_name=durable,
            filter_subject=names.results(transport.bot_id),
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=max(transport.ack_wait_s, 30.0),
            max_deliver=-1,
            max_ack_pending=-1,
        ),
    )
    return durable


async def cancelled_bucket(js: JetStreamContext, transport: Transport) -> KeyValue:
    return await _ensure_bucket(js, KeyValueConfig(transport.names.cancelled_bucket, ttl=DAY_S))


async def workers_bucket(js: JetStreamContext, transport: Transport) -> KeyValue:
    ttl = transport.beat_every_s * BEATS_TO_LIVE
    return await _ensure_bucket(js, KeyValueConfig(transport.names.workers_bucket, ttl=ttl))


async def media_bucket(js: JetStreamContext, transport: Transport) -> ObjectStore:
    """The object store; what nobody read within a day (a result whose bot never came back)
    expires."""
    bucket = transport.names.media_bucket
    try:
        return await js.object_store(bucket)
    except BucketNotFoundError:
        return await js.create_object_store(
            bucket, ObjectStoreConfig(ttl=KEPT_FOR_S, storage=StorageType.FILE)
        )


async def _ensure_stream(js: JetStreamContext, config: StreamConfig) -> None:
    try:
        await js.stream_info(config.name or "")
    except NotFoundError:
        await js.add_stream(config)
        return
    await js.update_stream(config)


async def _ensure_consumer(js: JetStreamContext, stream: str, config: ConsumerConfig) -> None:
    # The server creates it, or updates the fields that may change (ack_wait, max_deliver).
    await js.add_consumer(stream, config)


async def _ensure_bucket(js: JetStreamContext, config: KeyValueConfig) -> KeyValue:
    try:
        bucket = await js.key_value(config.bucket)
    except BucketNotFoundError:
        return await js.create_key_value(config)
    stream = f"KV_{config.bucket}"
    info = await js.stream_info(stream)
    if config.ttl is not None and info.config.max_age != config.ttl:
        window = min(info.config.duplicate_window or config.ttl, config.ttl)
        await js.update_stream(replace(info.config, max_age=config.ttl, duplicate_window=window))
    return bucket
