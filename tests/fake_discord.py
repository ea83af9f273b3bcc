"""A local Discord for tests: REST routes and a gateway websocket on 127.0.0.1.

The real discord.py client connects to it (through ATELIER_DISCORD_API_BASE and
ATELIER_DISCORD_GATEWAY_URL) as it would to Discord, and the fake records everything the bot
sends: message bodies with their allowed_mentions and files, typing, identify payloads and
heartbeat times. Tests play the people: they inject MESSAGE_CREATE events and read what came
back. Only what the client uses is served; an unknown route answers 404 so a new call shows up.

Pitfalls the fake respects (FACTS.md): JSON responses carry Content-Type exactly
`application/json` (discord.py parses nothing else); the client connects to the gateway path
with a trailing `/`; frames are sent as text (discord.py only decompresses binary ones); every
heartbeat is acknowledged; a 429 carries a `Via` header, without which discord.py takes it for
a Cloudflare ban and does not retry.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

API_PREFIX = "/api/v10"
GATEWAY_PATH = "/gateway/"
TOKEN = "fake-token"
Payload = dict[str, Any]

# Gateway opcodes (https://discord.com/developers/docs/topics/opcodes-and-status-codes).
DISPATCH, HEARTBEAT, IDENTIFY, RESUME, HELLO, HEARTBEAT_ACK = 0, 1, 2, 6, 10, 11
TIMESTAMP = "2026-11-01T12:00:00.000000+00:00"


@dataclass(frozen=True)
class SentFile:
    filename: str
    data: bytes
    content_type: str


@dataclass(frozen=True)
class SentMessage:
    """A message the bot created, as Discord received it."""

    id: str
    channel_id: str
    body: Payload  # the JSON payload (payload_json for multipart)
    files: tuple[SentFile, ...] = ()

    @property
    def content(self) -> str:
        return str(self.body.get("content") or "")

    @property
    def allowed_mentions(self) -> Payload | None:
        return self.body.get("allowed_mentions")

    @property
    def replies_to(self) -> str | None:
        reference = self.body.get("message_reference") or {}
        message_id = reference.get("message_id")
        return None if message_id is None else str(message_id)

    @property
    def pings_nobody(self) -> bool:
        """Whether Discord would notify no one: nothing to parse, no user or role lists, and
        not the author of the message replied to."""
        allowed = self.allowed_mentions or {}
        return (
            allowed.get("parse") == []
            and not allowed.get("users")
            and not allowed.get("roles")
            and not allowed.get("replied_user")
        )


@dataclass
class Injected:
    """A response to give instead of the real one, the next `times` a route is called."""

    status: int
    body: Payload
    headers: dict[str, str]
    times: int = 1


@dataclass
class Guild:
    id: str
    name: str
    channel_ids: list[str] = field(default_factory=list)


def json_response(
    body: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    # Exactly application/json: with "; charset=utf-8" discord.py takes the body for text.
    return web.Response(
        body=json.dumps(body).encode(),
        status=status,
        headers={"Content-Type": "application/json", **(headers or {})},
    )


class FakeDiscord:
    """One bot's view of Discord: `await fake.start()`, then `await fake.close()`."""

    def __init__(self, *, heartbeat_interval_ms: int = 41_250, token: str = TOKEN) -> None:
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.token = token
        self._ids = itertools.count(1_000_000)
        self.bot_user = self.user("atelier", bot=True)
        self.application_id = self.next_id()
        self.guilds: list[Guild] = []
        self.channels: dict[str, Payload] = {}
        self.files: dict[str, bytes] = {}  # served at /attachments/<id>/<name>
        # What the bot did.
        self.sent: list[SentMessage] = []
        self.typing: list[str] = []
        self.heartbeats: list[float] = []  # perf_counter() of each heartbeat received
        self.identify: Payload | None = None
        self.requests: list[tuple[str, str]] = []  # (method, path) of every REST call
        self._injected: dict[tuple[str, str], Injected] = {}
        self._sockets: set[web.WebSocketResponse] = set()
        self._seq = 0
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.port = 0
        self.close_code_on_identify: int | None = None

    # -- set-up ------------------------------------------------------------------------------

    def next_id(self) -> str:
        return str(next(self._ids))

    def user(self, name: str, *, bot: bool = False) -> Payload:
        return {
            "id": self.next_id(),
            "username": name,
            "global_name": name.title(),
            "discriminator": "0",
            "avatar": None,
            "bot": bot,
        }

    def add_guild(self, name: str = "studio", channels: tuple[str, ...] = ("general",)) -> Guild:
        guild = Guild(self.next_id(), name)
        for position, channel_name in enumerate(channels):
            channel = {
                "id": self.next_id(),
                "type": 0,
                "guild_id": guild.id,
                "name": channel_name,
                "position": position,
                "permission_overwrites": [],
            }
            self.channels[channel["id"]] = channel
            guild.channel_ids.append(channel["id"])
        self.guilds.append(guild)
        return guild

    def inject(self, method: str, path: str, status: int, body: Payload, **headers: str) -> None:
        """Answer the next call of `method path` (path after /api/v10) with this instead."""
        self._injected[(method, path)] = Injected(status, body, headers)

    def inject_429(self, channel_id: str, retry_after: float = 0.2) -> None:
        """The next message sent to the channel is rate limited, as Discord would answer."""
        self.inject(
            "POST",
            f"/channels/{channel_id}/messages",
            429,
            {"message": "You are being rate limited.", "retry_after": retry_after, "global": False},
            Via="1.1 google",
            **{"Retry-After": str(retry_after), "X-RateLimit-Scope": "user"},
        )

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_base(self) -> str:
        return self.base_url + API_PREFIX

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}{GATEWAY_PATH}"

    async def start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_get(GATEWAY_PATH, self._gateway)
        app.router.add_get(API_PREFIX + "/gateway", self._get_gateway)
        app.router.add_get(API_PREFIX + "/users/@me", self._me)
        app.router.add_get(API_PREFIX + "/oauth2/applications/@me", self._application)
        app.router.add_post(API_PREFIX + "/channels/{channel_id}/messages", self._create_message)
        app.router.add_post(API_PREFIX + "/channels/{channel_id}/typing", self._typing)
        app.router.add_get("/attachments/{file_id}/{filename}", self._attachment)
        app.middlewares.append(self._record_and_inject)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def close(self) -> None:
        for socket in list(self._sockets):
            await socket.close()
        if self._runner is not None:
            await self._runner.cleanup()

    # -- what tests inject -------------------------------------------------------------------

    def message(
        self,
        author: Payload,
        content: str,
        *,
        channel_id: str,
        guild_id: str | None = None,
        mentions: tuple[Payload, ...] = (),
        reply_to: SentMessage | Payload | None = None,
        attachments: tuple[tuple[str, str, bytes], ...] = (),
    ) -> Payload:
        """A MESSAGE_CREATE payload, as Discord would build it for a person's message."""
        payload: Payload = {
            "id": self.next_id(),
            "type": 0 if reply_to is None else 19,
            "channel_id": channel_id,
            "author": author,
            "content": content,
            "timestamp": TIMESTAMP,
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": list(mentions),
            "mention_roles": [],
            "attachments": [self._attachment_payload(*a) for a in attachments],
            "embeds": [],
            "pinned": False,
            "flags": 0,
        }
        if guild_id is not None:
            payload["guild_id"] = guild_id
            payload["member"] = {"roles": [], "joined_at": TIMESTAMP, "deaf": False, "mute": False}
        if reply_to is not None:
            replied = (
                self.message_payload(reply_to) if isinstance(reply_to, SentMessage) else reply_to
            )
            payload["message_reference"] = {
                "type": 0,
                "message_id": replied["id"],
                "channel_id": replied["channel_id"],
                **({"guild_id": guild_id} if guild_id else {}),
            }
            payload["referenced_message"] = replied
        return payload

    def dm_channel(self) -> str:
        """A DM channel's id: DMs arrive without a guild_id."""
        return self.next_id()

    async def send_message(self, payload: Payload) -> None:
        await self.dispatch("MESSAGE_CREATE", payload)

    async def dispatch(self, event: str, data: Payload) -> None:
        self._seq += 1
        frame = {"op": DISPATCH, "t": event, "s": self._seq, "d": data}
        for socket in list(self._sockets):
            await socket.send_str(json.dumps(frame))

    async def wait_for(self, condition: Any, timeout: float = 10.0) -> None:
        """Wait until `condition()` holds (checked after each thing the bot does)."""
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(condition), timeout)

    async def wait_for_sent(self, count: int, timeout: float = 10.0) -> list[SentMessage]:
        await self.wait_for(lambda: len(self.sent) >= count, timeout)
        return self.sent[:count]

    async def wait_until_identified(self, timeout: float = 10.0) -> None:
        await self.wait_for(lambda: self.identify is not None, timeout)

    # -- REST --------------------------------------------------------------------------------

    @web.middleware
    async def _record_and_inject(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if not request.path.startswith(API_PREFIX):
            return await handler(request)
        path = request.path.removeprefix(API_PREFIX)
        self.requests.append((request.method, path))
        if request.headers.get("Authorization") != f"Bot {self.token}":
            return json_response({"message": "401: Unauthorized", "code": 0}, status=401)
        injected = self._injected.get((request.method, path))
        if injected is not None:
            injected.times -= 1
            if injected.times <= 0:
                del self._injected[(request.method, path)]
            await request.read()
            await self._notify()
            return json_response(injected.body, injected.status, injected.headers)
        return await handler(request)

    async def _get_gateway(self, request: web.Request) -> web.Response:
        return json_response({"url": self.gateway_url.rstrip("/")})

    async def _me(self, request: web.Request) -> web.Response:
        return json_response(self.bot_user)

    async def _application(self, request: web.Request) -> web.Response:
        return json_response(
            {
                "id": self.application_id,
                "name": "atelier",
                "description": "",
                "icon": None,
                "bot_public": False,
                "bot_require_code_grant": False,
                "owner": self.user("owner"),
                "verify_key": "0" * 64,
                "flags": 0,
            }
        )

    async def _create_message(self, request: web.Request) -> web.Response:
        channel_id = request.match_info["channel_id"]
        body, files = await _read_message_body(request)
        message = SentMessage(self.next_id(), channel_id, body, files)
        self.sent.append(message)
        await self._notify()
        return json_response(self.message_payload(message))

    def message_payload(self, message: SentMessage) -> Payload:
        """The message object Discord returns (and later shows in a reply's reference)."""
        channel = self.channels.get(message.channel_id, {})
        payload: Payload = {
            "id": message.id,
            "type": 0,
            "channel_id": message.channel_id,
            "author": self.bot_user,
            "content": message.content,
            "timestamp": TIMESTAMP,
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": [
                self._attachment_payload(f.filename, f.content_type, f.data) for f in message.files
            ],
            "embeds": [],
            "pinned": False,
            "flags": 0,
        }
        if "guild_id" in channel:
            payload["guild_id"] = channel["guild_id"]
        return payload

    async def _typing(self, request: web.Request) -> web.Response:
        self.typing.append(request.match_info["channel_id"])
        await self._notify()
        return web.Response(status=204)

    async def _attachment(self, request: web.Request) -> web.Response:
        data = self.files.get(request.match_info["file_id"])
        if data is None:
            raise web.HTTPNotFound()
        return web.Response(body=data, content_type="application/octet-stream")

    def _attachment_payload(self, filename: str, content_type: str, data: bytes) -> Payload:
        file_id = self.next_id()
        self.files[file_id] = data
        url = f"{self.base_url}/attachments/{file_id}/{filename}"
        return {
            "id": file_id,
            "filename": filename,
            "size": len(data),
            "url": url,
            "proxy_url": url,
            "content_type": content_type,
        }

    # -- gateway -----------------------------------------------------------------------------

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        self._sockets.add(socket)
        try:
            hello = {"op": HELLO, "d": {"heartbeat_interval": self.heartbeat_interval_ms}}
            await socket.send_str(json.dumps(hello))
            async for frame in socket:
                if frame.type is not WSMsgType.TEXT:
                    break
                await self._on_frame(socket, json.loads(frame.data))
        finally:
            self._sockets.discard(socket)
        return socket

    async def _on_frame(self, socket: web.WebSocketResponse, frame: Payload) -> None:
        op = frame.get("op")
        if op == HEARTBEAT:
            self.heartbeats.append(time.perf_counter())
            await socket.send_str(json.dumps({"op": HEARTBEAT_ACK}))
        elif op == IDENTIFY:
            self.identify = frame["d"]
            if self.close_code_on_identify is not None:
                await socket.close(code=self.close_code_on_identify)
                return
            await self._ready()
        await self._notify()

    async def _ready(self) -> None:
        await self.dispatch(
            "READY",
            {
                "v": 10,
                "user": self.bot_user,
                "guilds": [{"id": guild.id, "unavailable": True} for guild in self.guilds],
                "session_id": "fake-session",
                "resume_gateway_url": self.gateway_url,
                "application": {"id": self.application_id, "flags": 0},
                "shard": [0, 1],
            },
        )
        for guild in self.guilds:
            await self.dispatch("GUILD_CREATE", self._guild_payload(guild))

    def _guild_payload(self, guild: Guild) -> Payload:
        return {
            "id": guild.id,
            "name": guild.name,
            "unavailable": False,
            "owner_id": self.bot_user["id"],
            "member_count": 2,
            "roles": [
                {
                    "id": guild.id,  # @everyone has the guild's id
                    "name": "@everyone",
                    "permissions": "3072",  # view channels, send messages
                    "position": 0,
                    "color": 0,
                    "hoist": False,
                    "managed": False,
                    "mentionable": False,
                }
            ],
            "channels": [self.channels[channel_id] for channel_id in guild.channel_ids],
            "members": [],
            "emojis": [],
            "stickers": [],
            "features": [],
        }

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()


async def _read_message_body(request: web.Request) -> tuple[Payload, tuple[SentFile, ...]]:
    """A create-message body: JSON, or multipart with payload_json and files[n]."""
    if request.content_type != "multipart/form-data":
        return await request.json(), ()
    body: Payload = {}
    files: list[SentFile] = []
    reader = await request.multipart()
    async for part in reader:
        if part.name == "payload_json":
            body = json.loads(await part.text())  # type: ignore[union-attr]
        else:
            data = await part.read()  # type: ignore[union-attr]
            content_type = part.headers.get("Content-Type", "application/octet-stream")
            files.append(SentFile(part.filename or "", bytes(data), content_type))  # type: ignore[union-attr]
    return body, tuple(files)
