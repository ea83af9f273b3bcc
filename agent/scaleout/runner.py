"""The bot's runner for ATELIER_JOBS=nats://...: a tool run, its place already taken in the
bot's limits (agent/jobs.py), published as a job and awaited as a result.

The job goes to the jobs stream under its kind and priority with a Nats-Msg-Id, so a publish
sent again (its acknowledgement lost) is one job. Its result comes back through this bot's
durable consumer (results.py); its progress on a plain subject, forwarded to the run's own
callback; a cancel (the run's flag, set by /cancel or the Cancel button) is written to the
cancelled bucket, which a worker reads before it starts, and sent on the job's cancel subject,
which a worker running it listens to. NATS not answering refuses the run in one line before
anything is stored; a job it accepted is never dropped by the bot (a bot that stops meanwhile
finds the result waiting in its consumer when it comes back: `on_unclaimed`).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Hashable

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js import JetStreamContext
from nats.js.kv import KeyValue

from agent.cancelling.running import current_job
from agent.config import Settings
from agent.jobs import ToolTimedOut
from agent.ledger.timing import ran_elsewhere
from agent.scaleout.carrying import focus_ref, refs_of_focus
from agent.scaleout.envelope import JobEnvelope, ProgressNote, ResultEnvelope
from agent.scaleout.media import MediaMover
from agent.scaleout.outcomes import draft_or_raise, read_once
from agent.scaleout.results import Arrived, OnUnclaimed, Results, log_unclaimed
from agent.scaleout.setup import QueueUnreachable, Transport, connect, describe, transport_from
from agent.scaleout.streams import (
    cancelled_bucket,
    ensure_bot_consumer,
    ensure_streams,
    media_bucket,
)
from agent.scaleout.subjects import job_kind
from tools.contract import ArtifactDraft, Cancelled, Tool, ToolArgs, ToolContext

logger = logging.getLogger(__name__)

POLL_S = 0.1  # how often a waiting run looks at its cancel flag
CANCEL_GRACE_S = 10.0  # how long a called-off run waits for the worker's word that it stopped
RECONNECT_EVERY_S = 5.0
PUBLISH_TIMEOUT_S = 2.0
# Job ids the studio mints for runs without a ledger row start here (agent/cancelling/);
# they repeat across processes, so such a run gets a random id of its own instead.
MINTED_IDS = 2**53


class NatsRunner:
    def __init__(self, transport: Transport, *, on_unclaimed: OnUnclaimed = log_unclaimed) -> None:
        self.transport = transport
        self.results = Results(transport, on_unclaimed)
        self._client: Client | None = None
        self._js: JetStreamContext | None = None
        self._media: MediaMover | None = None
        self._reconnecting: asyncio.Task[None] | None = None
        self._cancelled: KeyValue | None = None

    @property
    def on_unclaimed(self) -> OnUnclaimed:
        return self.results.on_unclaimed

    @on_unclaimed.setter
    def on_unclaimed(self, callback: OnUnclaimed) -> None:
        self.results.on_unclaimed = callback

    async def start(self) -> None:
        """Connect, or say in one line that tool jobs are refused until NATS answers (and
        keep trying in the background)."""
        try:
            await self._open()
        except Exception as exc:  # noqa: BLE001 - any failure to reach NATS is the same news
            logger.warning(
                "atelier's job queue (NATS at %s) is not answering (%s); tool requests are "
                "refused until it does",
                self.transport.where,
                describe(exc),
            )
            self._reconnecting = asyncio.create_task(self._keep_trying())

    async def close(self) -> None:
        if self._reconnecting is not None:
            self._reconnecting.cancel()
        await self.results.stop()
        if self._client is not None:
            await self._client.close()

    async def run(
        self,
        tool: Tool,
        args: ToolArgs,
        context: ToolContext,
        *,
        owner: int,
        group: Hashable | None = None,
    ) -> ArtifactDraft:
        """The draft the worker made, or the same refusals and errors as a local run."""
        client, js, media = self._ready()
        job_id = _job_id()
        focus = await focus_ref(media, context.focus, job_id)
        sources = [
            await focus_ref(media, one, job_id, place=f"source-{n}")
            for n, one in enumerate(context.sources)
        ]
        personal_style = await focus_ref(media, context.personal_style, job_id, place="style")
        inputs = [ref for one in (focus, *sources, personal_style) for ref in refs_of_focus(one)]
        envelope = JobEnvelope(
            job_id=job_id,
            bot_id=self.transport.bot_id,
            tool=tool.name,
            kind=job_kind(tool.kind),
            args=args.model_dump(mode="json"),
            settings=dict(context.settings),
            focus=focus,
            kept=tuple(dict(one) for one in context.kept),
            style=context.style,
            sources=tuple(one for one in sources if one is not None),
            personal_style=personal_style,
            voice=context.voice,
            owner=str(owner),
            group=str(owner if group is None else group),
            timeout_s=tool.timeout_s,
            published_at=time.time(),
        )
        arrival = self.results.expect(job_id)
        progress = await client.subscribe(
            self.transport.names.progress(job_id), cb=_forward_progress(context)
        )
        try:
            await self._publish(js, envelope)
            arrived = await self._await(arrival, tool, context, job_id)
        except asyncio.CancelledError:
            raise  # the bot is stopping, the job goes on: its focus stays for the worker
        except BaseException:
            await media.delete(inputs)
            raise
        finally:
            self.results.forget(job_id)
            await _quietly_unsubscribe(progress)
        await media.delete(inputs)
        return await self._outcome(arrived, tool)

    def _ready(self) -> tuple[Client, JetStreamContext, MediaMover]:
        client, js, media = self._client, self._js, self._media
        if client is None or js is None or media is None or not client.is_connected:
            raise QueueUnreachable(self.transport)
        return client, js, media

    async def _open(self) -> None:
        client = await connect(self.transport, keep_trying=True)
        try:
            js = client.jetstream()
            await ensure_streams(js, self.transport)
            durable = await ensure_bot_consumer(js, self.transport)
            objects = await media_bucket(js, self.transport) if self._object_mode else None
            self._cancelled = await cancelled_bucket(js, self.transport)
        except BaseException:
            await client.close()
            raise
        self._media = MediaMover(self.transport.media, self.transport.media_root, objects)
        self._client, self._js = client, js
        self.results.start(js, durable)

    @property
    def _object_mode(self) -> bool:
        return self.transport.media == "object"

    async def _keep_trying(self) -> None:
        while self._client is None:
            await asyncio.sleep(RECONNECT_EVERY_S)
            try:
                await self._open()
            except Exception as exc:  # noqa: BLE001 - still away; said once already
                logger.debug("NATS still not answering: %s", describe(exc))
        logger.warning("atelier's job queue (NATS at %s) is answering", self.transport.where)

    async def _publish(self, js: JetStreamContext, envelope: JobEnvelope) -> None:
        """Published, or QueueUnreachable; sent twice at most, as one job (Nats-Msg-Id)."""
        names = self.transport.names
        subject = names.job(envelope.kind, envelope.priority)
        headers = {"Nats-Msg-Id": names.message_id(envelope.job_id)}
        payload = envelope.model_dump_json().encode()
        for attempt in (1, 2):
            try:
                await js.publish(subject, payload, timeout=PUBLISH_TIMEOUT_S, headers=headers)
                return
            except Exception as exc:  # noqa: BLE001 - timeouts, no responders, closed
                logger.warning(
                    "publishing job %d (try %d): %s", envelope.job_id, attempt, describe(exc)
                )
        # It may have landed all the same (only its acknowledgement lost): make sure no
        # worker runs a job the person was told was refused.
        await self._cancel(envelope.job_id)
        raise QueueUnreachable(self.transport)

    async def _await(
        self, arrival: asyncio.Future[Arrived], tool: Tool, context: ToolContext, job_id: int
    ) -> Arrived:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + tool.timeout_s + self.transport.ack_wait_s
        called_off = False
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                if called_off:
                    raise Cancelled()
                context.cancelled.set()
                await self._cancel(job_id)
                raise ToolTimedOut(tool)
            done, _ = await asyncio.wait({arrival}, timeout=min(POLL_S, remaining))
            if done:
                return arrival.result()
            if context.cancelled.is_set() and not called_off:
                called_off = True
                await self._cancel(job_id)
                deadline = min(deadline, loop.time() + CANCEL_GRACE_S)

    async def _cancel(self, job_id: int) -> None:
        """Called off for a worker that takes it later (the bucket) or runs it now."""
        names = self.transport.names
        client, bucket = self._client, self._cancelled
        if client is None or bucket is None:
            return
        try:
            await bucket.put(str(job_id), b"1")
        except Exception as exc:  # noqa: BLE001 - the plain subject below may still reach it
            logger.warning("could not mark job %d cancelled: %s", job_id, describe(exc))
        try:
            await client.publish(names.cancel(job_id), b"")
        except Exception as exc:  # noqa: BLE001
            logger.warning("could not send job %d's cancel: %s", job_id, describe(exc))

    async def _outcome(self, arrived: Arrived, tool: Tool) -> ArtifactDraft:
        assert self._media is not None
        ran_elsewhere(arrived.result.tool_seconds)  # the ledger's seconds, the daily quota's
        try:
            return await draft_or_raise(self._media, arrived.result, tool.name)
        finally:
            await _acknowledge(arrived.message)

    async def draft_of(self, result: ResultEnvelope) -> ArtifactDraft | None:
        """An unclaimed result's draft with its bytes (for whoever stores it), None when it
        made nothing; its objects are deleted once read."""
        if result.outcome != "made" or result.draft is None or self._media is None:
            return None
        return await read_once(self._media, result.draft)


def _job_id() -> int:
    """The ledger's id of the run in the works, else one no other process will use."""
    job = current_job.get()
    if job is not None and job < MINTED_IDS:
        return job
    return MINTED_IDS + secrets.randbits(52)


def _forward_progress(context: ToolContext):  # noqa: ANN202 - nats-py's callback shape
    async def forward(message: Msg) -> None:
        try:
            note = ProgressNote.model_validate_json(message.data)
        except ValueError:
            return
        context.progress(note.fraction, note.label)

    return forward


async def _acknowledge(message: Msg) -> None:
    try:
        await message.ack()
    except Exception as exc:  # noqa: BLE001 - it comes again, unclaimed: logged there
        logger.warning("could not acknowledge a result: %s", describe(exc))


async def _quietly_unsubscribe(subscription: Subscription) -> None:
    try:
        await subscription.unsubscribe()
    except Exception as exc:  # noqa: BLE001 - a closed connection took it already
        logger.debug("progress subscription: %s", describe(exc))


async def open_runner(settings: Settings) -> NatsRunner | None:
    """The NATS runner ATELIER_JOBS asks for, started (None: jobs run in this process). NATS
    not answering is said in one line; tool requests are then refused until it answers."""
    transport = transport_from(settings)
    if transport is None:
        return None
    runner = NatsRunner(transport)
    await runner.start()
    return runner
