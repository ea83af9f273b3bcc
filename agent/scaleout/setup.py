"""What the bot and its workers need to reach each other: the NATS URL, the names, the media
mode and the redelivery rules, from Settings (or built directly by tests and benches); and
connecting, with an unreachable server said in one line.
"""

from __future__ import annotations

import asyncio
import logging
import re
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

import nats
from nats.aio.client import Client

from agent.config import Settings, StartupError
from agent.scaleout.subjects import Names
from tools.contract import ToolRefused

logger = logging.getLogger(__name__)

MediaMode = Literal["shared", "object"]

# How long a worker's beat lives in the workers bucket, in beats: a worker that misses this
# many is gone from `atelier status`.
BEATS_TO_LIVE = 3


@dataclass(frozen=True)
class Transport:
    url: str
    names: Names
    bot_id: str
    media: MediaMode = "shared"
    media_root: Path = Path("data/media")  # the directory both sides mount, in shared mode
    ack_wait_s: float = 30.0
    max_deliver: int = 3
    pull: int = 8  # jobs a worker takes at once
    beat_every_s: float = 5.0  # a worker's WorkerBeat
    connect_timeout_s: float = 2.0

    @property
    def where(self) -> str:
        """The server as an operator may read it: no credentials."""
        return shown_url(self.url)


def transport_from(settings: Settings) -> Transport | None:
    """The NATS transport the settings ask for; None for `ATELIER_JOBS=local`."""
    if settings.jobs == "local":
        return None
    return Transport(
        url=settings.jobs,
        names=Names(prefix=settings.nats_prefix),
        bot_id=settings.bot_id or host_bot_id(),
        media=settings.jobs_media,
        media_root=settings.data_dir / "media",
        ack_wait_s=settings.jobs_ack_wait_s,
        max_deliver=settings.jobs_max_deliver,
        pull=settings.worker_pull,
    )


def host_bot_id() -> str:
    """This host's name as a subject token: dots and anything else NATS splits on become -."""
    name = re.sub(r"[^A-Za-z0-9_-]+", "-", socket.gethostname()).strip("-")
    return name[:64] or "bot"


def shown_url(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}:{parts.port or 4222}"


class QueueUnreachable(ToolRefused):
    """The bot cannot hand a job to NATS: refused in one line, nothing stored."""

    def __init__(self, transport: Transport) -> None:
        super().__init__(
            f"atelier's job queue (NATS at {transport.where}) is not answering; "
            "try again in a minute."
        )


class NatsUnreachable(StartupError):
    """A worker cannot reach NATS at start: one line, exit 3 (like Discord unreachable)."""

    exit_code = 3

    def __init__(self, transport: Transport, error: BaseException) -> None:
        super().__init__(
            f"NATS at {transport.where} is not answering ({describe(error)}): start it, or "
            "point ATELIER_JOBS at the right server"
        )


async def connect(transport: Transport, *, keep_trying: bool) -> Client:
    """A connected client. `keep_trying`: after a drop it reconnects for as long as it takes
    (the bot, a worker); the first connection is tried once and raises what nats-py raised."""
    connected: list[Client] = []  # for the callbacks, once there is a client
    # nats-py tries a first connection again and again unless told a limit: one retry here.
    opening = nats.connect(
        transport.url,
        connect_timeout=transport.connect_timeout_s,
        max_reconnect_attempts=1,
        reconnect_time_wait=0.5,
        allow_reconnect=False,
        error_cb=_quiet,
        disconnected_cb=_disconnected(transport, connected),
        reconnected_cb=_reconnected(transport),
    )
    client = await asyncio.wait_for(opening, 3 * transport.connect_timeout_s + 1)
    connected.append(client)
    if keep_trying:  # read by nats-py at each drop
        client.options["allow_reconnect"] = True
        client.options["max_reconnect_attempts"] = -1
    return client


def describe(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


async def _quiet(error: Exception) -> None:
    # nats-py reports each failed reconnect here; the disconnect was said once already.
    logger.debug("nats: %s", describe(error))


def _disconnected(transport: Transport, connected: list[Client]):  # noqa: ANN202 - a callback
    async def said() -> None:
        if connected and not connected[0].is_closed:  # closing on purpose says nothing
            logger.warning("lost NATS at %s; reconnecting", transport.where)

    return said


def _reconnected(transport: Transport):  # noqa: ANN202 - nats-py's callback shape
    async def said() -> None:
        logger.warning("NATS at %s is back", transport.where)

    return said
