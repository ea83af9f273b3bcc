"""A local Discord for tests: REST routes and a gateway websocket on 127.0.0.1.

The real discord.py client connects to it (through ATELIER_DISCORD_API_BASE and
ATELIER_DISCORD_GATEWAY_URL) as it would to Discord, and the fake records everything the bot
sends: message bodies with their allowed_mentions and files, typing, identify payloads and
heartbeat times. Tests play the people: they inject MESSAGE_CREATE events and read what came
back. Only what the client uses is served; an unknown route answers 404 so a new call shows up.

Slash commands, buttons and modals: the bot registers its commands (PUT .../commands) and the
fake keeps them; a test then plays a person using one (`slash`, `autocomplete`, `click`,
`submit_modal`), which the fake checks against what was registered, as Discord would, and
dispatches as INTERACTION_CREATE. What the bot answers is recorded per interaction
(`InteractionLog`): its callbacks (defer, message, modal, autocomplete choices), the edits of
its original response and its follow-ups, each with the time it arrived. Interaction
callbacks and webhook calls carry no bot token, as on Discord.

Slash command groups (`/session start ...`) are played as `slash(user, "session start", ...)`;
a user option takes the person's payload, sent as Discord sends it (the id, and the user in
the interaction's `resolved`), a channel option the channel's payload. A member's permission
bits in interactions are 3072 (view, send) unless a test `grant`s more (Manage Server for
/settings); a channel named in add_guild's `age_restricted` carries Discord's nsfw flag.
The first follow-up to a deferred interaction whose "thinking..." message was never edited
takes that message's visibility, whatever its own flags say, as on Discord; the bot may
delete its original response (`InteractionLog.deleted`).

Threads: the bot opens one in a text channel (POST .../threads); the fake keeps it with the
channels, tells the gateway (THREAD_CREATE, and the "started a thread" system message in the
parent) and lists the active ones in GUILD_CREATE, as Discord does, so the client's cache has
it after a restart too. A test speaks in a thread by injecting a message with the thread's id
as its channel_id. Channels and threads are fetched (GET /channels/{id}), edited (PATCH:
archiving a thread dispatches THREAD_UPDATE) and deleted (THREAD_DELETE); a message sent to an
archived thread unarchives it, and one sent to a deleted channel is refused (Unknown Channel).
Pins (PUT /channels/{id}/messages/pins/{mid}, discord.py 2.7's route) are kept per channel,
with the "pinned a message" system message dispatched.

Pitfalls the fake respects (each seen with discord.py 2.7): JSON responses carry Content-Type
exactly `application/json` (discord.py parses nothing else); the client connects to the gateway
path with a trailing `/`; frames are sent as text (discord.py only decompresses binary ones);
every heartbeat is acknowledged; a 429 carries a `Via` header, without which discord.py takes
it for a Cloudflare ban and does not retry.

Faults (tests/bot/test_discord_faults.py): a route answers a burst of 429s (`inject_429`) or
5xx errors (`inject_5xx`) before it works again, each injected answer queued behind the last.
The gateway keeps every event it dispatched in the session, with its sequence number, as
Discord does for a resume: `drop_connection()` closes the websocket (discord.py reconnects
and sends RESUME with its session id and the last sequence it saw), and the fake replays
what the client missed, events dispatched while it was away included, then RESUMED.
`invalidate_session()` sends INVALID_SESSION (op 9, not resumable): the client identifies
again and gets a new session, as it would on Discord; what was dispatched to the old one is
not replayed (with `resumable=True` the client resumes instead). Events go only to
connections that identified or resumed.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

API_PREFIX = "/api/v10"
GATEWAY_PATH = "/gateway/"
TOKEN = "fake-token"
Payload = dict[str, Any]

# Gateway opcodes (https://discord.com/developers/docs/topics/opcodes-and-status-codes).
DISPATCH, HEARTBEAT, IDENTIFY, RESUME, INVALID_SESSION, HELLO, HEARTBEAT_ACK = 0, 1, 2, 6, 9, 10, 11
# A close code after which a client may resume (4000: "unknown error, reconnect").
RESUMABLE_CLOSE = 4000
TIMESTAMP = "2026-11-01T12:00:00.000000+00:00"
# Interaction types, and the callback types the bot answers with.
APPLICATION_COMMAND, MESSAGE_COMPONENT, AUTOCOMPLETE, MODAL_SUBMIT = 2, 3, 4, 5
MESSAGE, DEFERRED, DEFERRED_UPDATE, UPDATE, AUTOCOMPLETE_RESULT, MODAL = 4, 5, 6, 7, 8, 9
EPHEMERAL = 1 << 6
# Application command option types the bot's commands use, and the Python values they take
# (a user option takes the person's payload in a test; Discord sends the id).
SUB_COMMAND, USER_OPTION, CHANNEL_OPTION = 1, 6, 7
OPTION_TYPES: dict[int, tuple[type, ...]] = {
    3: (str,),
    4: (int,),
    5: (bool,),
    USER_OPTION: (dict,),
    CHANNEL_OPTION: (dict,),  # the channel's payload (fake.channels[id])
    10: (int, float),
}
# Channel types, and the system messages Discord posts about threads and pins.
TEXT_CHANNEL, PUBLIC_THREAD, PRIVATE_THREAD = 0, 11, 12
PINNED_MESSAGE, THREAD_CREATED = 6, 18


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
    at: float = field(default_factory=time.perf_counter, compare=False)  # when it arrived

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

    @property
    def buttons(self) -> dict[str, str]:
        """The message's buttons: custom id -> label."""
        return {
            button["custom_id"]: button.get("label", "")
            for row in self.body.get("components") or []
            for button in row.get("components", [])
            if "custom_id" in button
        }

    @property
    def ephemeral(self) -> bool:
        return bool(int(self.body.get("flags") or 0) & EPHEMERAL)


@dataclass(frozen=True)
class Callback:
    """An interaction callback: how the bot first answered (defer, message, modal ...)."""

    type: int
    data: Payload
    at: float  # perf_counter()

    @property
    def ephemeral(self) -> bool:
        return bool(int(self.data.get("flags") or 0) & EPHEMERAL)

    @property
    def content(self) -> str:
        return str(self.data.get("content") or "")


@dataclass(frozen=True)
class Edit:
    """An edit of an interaction's original response."""

    body: Payload
    at: float
    files: tuple[SentFile, ...] = ()

    @property
    def content(self) -> str:
        return str(self.body.get("content") or "")


@dataclass
class InteractionLog:
    """One interaction a person started, and everything the bot answered to it."""

    id: str
    token: str
    user: Payload
    channel_id: str
    guild_id: str | None
    dispatched_at: float
    callbacks: list[Callback] = field(default_factory=list)
    edits: list[Edit] = field(default_factory=list)
    followups: list[SentMessage] = field(default_factory=list)
    deleted: bool = False  # the bot deleted its original response ("thinking...")

    @property
    def acknowledged_in(self) -> float | None:
        """Seconds from dispatch to the first callback; None while unanswered."""
        return self.callbacks[0].at - self.dispatched_at if self.callbacks else None

    @property
    def deferred(self) -> bool:
        return bool(self.callbacks) and self.callbacks[0].type in (DEFERRED, DEFERRED_UPDATE)

    @property
    def modal(self) -> Payload | None:
        modal = next((c for c in self.callbacks if c.type == MODAL), None)
        return None if modal is None else modal.data

    @property
    def private(self) -> bool:
        """Whether what the bot answered is the person's alone (an ephemeral first answer)."""
        return bool(self.callbacks) and self.callbacks[0].ephemeral

    @property
    def said(self) -> str:
        """The text the person last saw in the bot's first answer: the last edit of it, or
        the message it answered with."""
        if self.edits:
            return self.edits[-1].content
        return self.callbacks[0].content if self.callbacks else ""

    @property
    def choices(self) -> list[Payload] | None:
        """Autocomplete suggestions the bot answered with."""
        answer = next((c for c in self.callbacks if c.type == AUTOCOMPLETE_RESULT), None)
        return None if answer is None else list(answer.data.get("choices", []))


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
    thread_ids: list[str] = field(default_factory=list)


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
        self.users: dict[str, Payload] = {}  # served at /users/<id>
        # A member's permission bits in a server's interactions, by user id (`grant`);
        # anyone else has view channels and send messages (3072).
        self.member_permissions: dict[str, int] = {}
        self.bot_user = self.user("atelier", bot=True)
        self.application_id = self.next_id()
        self.guilds: list[Guild] = []
        self.channels: dict[str, Payload] = {}
        self.files: dict[str, bytes] = {}  # served at /attachments/<id>/<name>
        # What the bot did.
        self.sent: list[SentMessage] = []
        self.pins: dict[str, list[str]] = {}  # channel id -> ids of its pinned messages
        self.deleted_channels: set[str] = set()
        self.typing: list[str] = []
        self.typing_at: list[tuple[str, float]] = []  # (channel id, perf_counter())
        self.heartbeats: list[float] = []  # perf_counter() of each heartbeat received
        self.identify: Payload | None = None  # the last IDENTIFY
        self.identifies: list[Payload] = []  # every IDENTIFY, in order
        self.resumes: list[Payload] = []
        self.requests: list[tuple[str, str]] = []  # (method, path) of every REST call
        self._injected: dict[tuple[str, str], deque[Injected]] = {}
        self._sockets: set[web.WebSocketResponse] = set()
        # Connections that identified or resumed: only they are sent events.
        self._live: set[web.WebSocketResponse] = set()
        self.session_id = ""
        self._seq = 0
        self._dispatched: list[Payload] = []  # this session's events, for a resume to replay
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.port = 0
        self.close_code_on_identify: int | None = None
        # Slash commands as the bot registered them (name -> payload), and interactions.
        self.commands: dict[str, Payload] = {}
        self.interactions: dict[str, InteractionLog] = {}
        self._by_token: dict[str, InteractionLog] = {}
        self._webhook_messages: dict[str, SentMessage] = {}

    # -- set-up ------------------------------------------------------------------------------

    def next_id(self) -> str:
        return str(next(self._ids))

    def user(self, name: str, *, bot: bool = False) -> Payload:
        user = {
            "id": self.next_id(),
            "username": name,
            "global_name": name.title(),
            "discriminator": "0",
            "avatar": None,
            "bot": bot,
        }
        self.users[user["id"]] = user
        return user

    def grant(self, user: Payload, permissions: int) -> None:
        """`user` has these permission bits (e.g. 1 << 5, Manage Server) in interactions."""
        self.member_permissions[user["id"]] = permissions | 3072

    def add_guild(
        self,
        name: str = "studio",
        channels: tuple[str, ...] = ("general",),
        age_restricted: tuple[str, ...] = (),
    ) -> Guild:
        """A server with these text channels; those named in `age_restricted` have
        Discord's nsfw flag."""
        guild = Guild(self.next_id(), name)
        for position, channel_name in enumerate(channels):
            channel = {
                "id": self.next_id(),
                "type": 0,
                "guild_id": guild.id,
                "name": channel_name,
                "position": position,
                "permission_overwrites": [],
                "nsfw": channel_name in age_restricted,
            }
            self.channels[channel["id"]] = channel
            guild.channel_ids.append(channel["id"])
        self.guilds.append(guild)
        return guild

    def inject(
        self, method: str, path: str, status: int, body: Payload, times: int = 1, **headers: str
    ) -> None:
        """Answer the next `times` calls of `method path` (path after /api/v10) with this
        instead, after any answers injected before it."""
        queued = self._injected.setdefault((method, path), deque())
        queued.append(Injected(status, body, headers, times))

    def inject_429(self, channel_id: str, retry_after: float = 0.2, times: int = 1) -> None:
        """The next `times` messages sent to the channel are rate limited, as Discord would
        answer."""
        self.inject(
            "POST",
            f"/channels/{channel_id}/messages",
            429,
            {"message": "You are being rate limited.", "retry_after": retry_after, "global": False},
            times,
            Via="1.1 google",
            **{"Retry-After": str(retry_after), "X-RateLimit-Scope": "user"},
        )

    def inject_5xx(self, channel_id: str, *statuses: int) -> None:
        """The next messages sent to the channel fail with these server errors, in order, as
        Discord's edge answers when it is having trouble."""
        for status in statuses:
            body = {"message": f"{status}: Server Error", "code": 0}
            self.inject("POST", f"/channels/{channel_id}/messages", status, body)

    def injected_left(self) -> int:
        """Injected answers not given yet."""
        return sum(one.times for queued in self._injected.values() for one in queued)

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
        channel = API_PREFIX + "/channels/{channel_id}"
        app.router.add_get(channel, self._get_channel)
        app.router.add_patch(channel, self._edit_channel)
        app.router.add_delete(channel, self._delete_channel)
        app.router.add_post(channel + "/messages", self._create_message)
        app.router.add_post(channel + "/typing", self._typing)
        app.router.add_post(channel + "/threads", self._create_thread)
        app.router.add_put(channel + "/messages/pins/{message_id}", self._pin)
        app.router.add_get("/attachments/{file_id}/{filename}", self._attachment)
        app.router.add_get(API_PREFIX + "/users/{user_id}", self._get_user)
        commands = API_PREFIX + "/applications/{application_id}/commands"
        app.router.add_put(commands, self._register_commands)
        app.router.add_get(commands, self._list_commands)
        guild_commands = API_PREFIX + "/applications/{application_id}/guilds/{guild_id}/commands"
        app.router.add_put(guild_commands, self._register_commands)
        app.router.add_post(API_PREFIX + "/interactions/{id}/{token}/callback", self._callback)
        webhook = API_PREFIX + "/webhooks/{application_id}/{token}"
        app.router.add_post(webhook, self._followup)
        app.router.add_patch(webhook + "/messages/@original", self._edit_original)
        app.router.add_delete(webhook + "/messages/@original", self._delete_original)
        app.router.add_patch(webhook + "/messages/{message_id}", self._edit_followup)
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

    def threads_in(self, channel_id: str) -> list[Payload]:
        """The threads opened in a channel, oldest first (deleted ones are gone)."""
        return [c for c in self.channels.values() if c.get("parent_id") == channel_id]

    def sent_in(self, channel_id: str) -> list[SentMessage]:
        """What the bot posted in a channel or thread, in order (not interaction answers)."""
        return [message for message in self.sent if message.channel_id == channel_id]

    def dm_channel(self, recipient: Payload | None = None) -> str:
        """A DM channel's id: DMs arrive without a guild_id. With its `recipient` it can also
        be fetched (GET /channels/{id}), as the bot does to post there unprompted."""
        channel_id = self.next_id()
        if recipient is not None:
            self.channels[channel_id] = {"id": channel_id, "type": 1, "recipients": [recipient]}
        return channel_id

    async def send_message(self, payload: Payload) -> None:
        await self.dispatch("MESSAGE_CREATE", payload)

    async def dispatch(self, event: str, data: Payload) -> None:
        """Send an event to the connected client, or keep it for the client's resume."""
        self._seq += 1
        frame = {"op": DISPATCH, "t": event, "s": self._seq, "d": data}
        self._dispatched.append(frame)
        for socket in list(self._live):
            await _send(socket, frame)

    @property
    def sequence(self) -> int:
        """The sequence number of the last event dispatched in this session."""
        return self._seq

    async def drop_connection(self, code: int = RESUMABLE_CLOSE) -> None:
        """Close the gateway connection, as Discord does now and then: the client reconnects
        and resumes; events dispatched until then are kept for it."""
        live, self._live = list(self._live), set()
        for socket in live:
            await socket.close(code=code)

    async def invalidate_session(self, *, resumable: bool = False) -> None:
        """INVALID_SESSION: the client must identify again, or with `resumable` reconnect
        and resume."""
        live, self._live = list(self._live), set()
        for socket in live:
            await _send(socket, {"op": INVALID_SESSION, "d": resumable})

    async def wait_until_resumed(self, count: int = 1, timeout: float = 10.0) -> None:
        await self.wait_for(lambda: len(self.resumes) >= count and bool(self._live), timeout)

    async def wait_until_identified_again(self, count: int, timeout: float = 10.0) -> None:
        """Until the client has identified `count` times in all, and is connected."""
        await self.wait_for(lambda: len(self.identifies) >= count and bool(self._live), timeout)

    async def wait_for(self, condition: Any, timeout: float = 10.0) -> None:
        """Wait until `condition()` holds (checked after each thing the bot does)."""
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(condition), timeout)

    async def wait_for_sent(self, count: int, timeout: float = 10.0) -> list[SentMessage]:
        await self.wait_for(lambda: len(self.sent) >= count, timeout)
        return self.sent[:count]

    async def wait_until_identified(self, timeout: float = 10.0) -> None:
        await self.wait_for(lambda: self.identify is not None, timeout)

    # -- interactions: people using slash commands, buttons and modals ----------------------

    async def slash(
        self,
        user: Payload,
        name: str,
        *,
        channel_id: str,
        guild_id: str | None = None,
        **options: Any,
    ) -> InteractionLog:
        """`user` runs /name with these options, or a group's subcommand ("session start");
        refused (AssertionError) as Discord would refuse it: an unregistered command, an
        unknown or missing option, a bad choice."""
        top, _, sub = name.partition(" ")
        command = self.commands.get(top)
        assert command is not None, f"/{top} is not registered: {sorted(self.commands)}"
        declared = self._checked_options(name, self._subcommand(command, sub), options)
        sent = [
            {"name": key, "type": declared[key]["type"], "value": _option_value(value)}
            for key, value in options.items()
        ]
        if sub:
            sent = [{"name": sub, "type": SUB_COMMAND, "options": sent}]
        data: Payload = {"id": command["id"], "name": top, "type": 1, "options": sent}
        users = [v for k, v in options.items() if declared[k]["type"] == USER_OPTION]
        channels = [v for k, v in options.items() if declared[k]["type"] == CHANNEL_OPTION]
        if users or channels:
            data["resolved"] = _resolved(users, guild_id, channels)
        return await self._interact(APPLICATION_COMMAND, user, data, channel_id, guild_id)

    async def autocomplete(
        self,
        user: Payload,
        name: str,
        focused: str,
        typed: str,
        *,
        channel_id: str,
        guild_id: str | None = None,
    ) -> InteractionLog:
        """`user` is typing `typed` into option `focused` of /name."""
        command = self.commands.get(name)
        assert command is not None, f"/{name} is not registered"
        option = self._option(command, focused)
        assert option.get("autocomplete"), f"/{name} {focused} has no autocomplete"
        data = {
            "id": command["id"],
            "name": name,
            "type": 1,
            "options": [{"name": focused, "type": option["type"], "value": typed, "focused": True}],
        }
        return await self._interact(AUTOCOMPLETE, user, data, channel_id, guild_id)

    async def click(
        self, user: Payload, message: SentMessage, custom_id: str, *, guild_id: str | None = None
    ) -> InteractionLog:
        """`user` presses the button `custom_id` under `message`."""
        assert custom_id in message.buttons, f"no button {custom_id} under that message"
        data = {"custom_id": custom_id, "component_type": 2}
        extra = {"message": self.message_payload(message)}
        return await self._interact(
            MESSAGE_COMPONENT, user, data, message.channel_id, guild_id, extra
        )

    async def submit_modal(
        self, user: Payload, opened: InteractionLog, *values: str
    ) -> InteractionLog:
        """`user` fills in the modal the bot opened in answer to `opened`, one value per text
        input in order, and submits it."""
        modal = opened.modal
        assert modal is not None, "the bot opened no modal"
        inputs = [_text_input(component) for component in modal["components"]]
        assert len(inputs) == len(values), f"the modal has {len(inputs)} inputs"
        data = {
            "custom_id": modal["custom_id"],
            "components": [
                {"type": 1, "components": [{"type": 4, "custom_id": i["custom_id"], "value": v}]}
                for i, v in zip(inputs, values, strict=True)
            ],
        }
        return await self._interact(MODAL_SUBMIT, user, data, opened.channel_id, opened.guild_id)

    async def wait_for_interaction(
        self, log: InteractionLog, holds: Any, timeout: float = 10.0
    ) -> InteractionLog:
        await self.wait_for(lambda: holds(log), timeout)
        return log

    @staticmethod
    def _subcommand(command: Payload, sub: str) -> Payload:
        if not sub:
            return command
        found = [o for o in command.get("options", []) if o["name"] == sub]
        assert found and found[0]["type"] == SUB_COMMAND, f"/{command['name']} has no {sub}"
        return found[0]

    @staticmethod
    def _checked_options(
        name: str, command: Payload, options: dict[str, Any]
    ) -> dict[str, Payload]:
        declared = {option["name"]: option for option in command.get("options", [])}
        for key, value in options.items():
            option = declared.get(key)
            assert option is not None, f"/{name} has no option {key}: {sorted(declared)}"
            assert isinstance(value, OPTION_TYPES[option["type"]]), (key, value)
            choices = [choice["value"] for choice in option.get("choices", [])]
            assert not choices or value in choices, f"{key}={value!r} is not one of {choices}"
        missing = [n for n, o in declared.items() if o.get("required") and n not in options]
        assert not missing, f"/{name} needs {missing}"
        return declared

    @staticmethod
    def _option(command: Payload, name: str) -> Payload:
        return next(o for o in command.get("options", []) if o["name"] == name)

    async def _interact(
        self,
        kind: int,
        user: Payload,
        data: Payload,
        channel_id: str,
        guild_id: str | None,
        extra: Payload | None = None,
    ) -> InteractionLog:
        interaction_id, token = self.next_id(), f"token-{self.next_id()}"
        payload: Payload = {
            "id": interaction_id,
            "application_id": self.application_id,
            "type": kind,
            "data": data,
            "token": token,
            "version": 1,
            "channel_id": channel_id,
            "channel": self.channels.get(channel_id)
            or {"id": channel_id, "type": 0 if guild_id else 1},
            "locale": "en-US",
            "app_permissions": "3072",
            "attachment_size_limit": 10 * 1024 * 1024,
            "entitlements": [],
            "authorizing_integration_owners": {},
            "context": 0 if guild_id else 1,
            **(extra or {}),
        }
        if guild_id is not None:
            payload["guild_id"] = guild_id
            payload["guild_locale"] = "en-US"
            payload["member"] = {
                "user": user,
                "roles": [],
                "joined_at": TIMESTAMP,
                "deaf": False,
                "mute": False,
                "flags": 0,
                "permissions": str(self.member_permissions.get(user["id"], 3072)),
            }
        else:
            payload["user"] = user
        log = InteractionLog(interaction_id, token, user, channel_id, guild_id, time.perf_counter())
        self.interactions[interaction_id] = log
        self._by_token[token] = log
        await self.dispatch("INTERACTION_CREATE", payload)
        return log

    # -- REST --------------------------------------------------------------------------------

    @web.middleware
    async def _record_and_inject(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if not request.path.startswith(API_PREFIX):
            return await handler(request)
        path = request.path.removeprefix(API_PREFIX)
        self.requests.append((request.method, path))
        # Interaction callbacks and follow-ups are authorised by the interaction's token.
        by_token = path.startswith(("/interactions/", "/webhooks/"))
        if not by_token and request.headers.get("Authorization") != f"Bot {self.token}":
            return json_response({"message": "401: Unauthorized", "code": 0}, status=401)
        queued = self._injected.get((request.method, path))
        if queued:
            injected = queued[0]
            injected.times -= 1
            if injected.times <= 0:
                queued.popleft()
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
        if channel_id in self.deleted_channels:
            return json_response({"message": "Unknown Channel", "code": 10003}, status=404)
        thread = self.channels.get(channel_id, {})
        if thread.get("thread_metadata", {}).get("archived"):
            await self._set_thread(thread, archived=False)  # as on Discord: it comes back
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
            "components": message.body.get("components") or [],
            "pinned": message.id in self.pins.get(message.channel_id, []),
            "flags": int(message.body.get("flags") or 0),
        }
        if "guild_id" in channel:
            payload["guild_id"] = channel["guild_id"]
        if message.id in self._webhook_messages:
            payload["webhook_id"] = self.application_id
        return payload

    async def _get_channel(self, request: web.Request) -> web.Response:
        channel = self.channels.get(request.match_info["channel_id"])
        if channel is None:
            return json_response({"message": "Unknown Channel", "code": 10003}, status=404)
        return json_response(channel)

    async def _create_thread(self, request: web.Request) -> web.Response:
        """A thread without a starter message, as TextChannel.create_thread opens one."""
        parent = self.channels.get(request.match_info["channel_id"])
        body = await request.json()
        if parent is None or parent["type"] != TEXT_CHANNEL:
            return json_response({"message": "Unknown Channel", "code": 10003}, status=404)
        name = str(body.get("name") or "")
        if not 1 <= len(name) <= 100:
            return json_response({"message": "Invalid Form Body", "code": 50035}, status=400)
        thread = self._thread_payload(parent, name, body)
        self.channels[thread["id"]] = thread
        guild = next(g for g in self.guilds if g.id == parent["guild_id"])
        guild.thread_ids.append(thread["id"])
        await self.dispatch("THREAD_CREATE", {**thread, "newly_created": True})
        if thread["type"] == PUBLIC_THREAD:
            await self.dispatch(
                "MESSAGE_CREATE", self._system_message(parent["id"], THREAD_CREATED, name)
            )
        await self._notify()
        return json_response(thread, status=201)

    def _thread_payload(self, parent: Payload, name: str, body: Payload) -> Payload:
        return {
            "id": self.next_id(),
            "type": int(body.get("type") or PRIVATE_THREAD),
            "guild_id": parent["guild_id"],
            "parent_id": parent["id"],
            "owner_id": self.bot_user["id"],
            "name": name,
            "last_message_id": None,
            "rate_limit_per_user": int(body.get("rate_limit_per_user") or 0),
            "message_count": 0,
            "member_count": 1,
            "total_message_sent": 0,
            "flags": 0,
            "thread_metadata": {
                "archived": False,
                "auto_archive_duration": int(body.get("auto_archive_duration") or 1440),
                "archive_timestamp": TIMESTAMP,
                "locked": False,
                "invitable": bool(body.get("invitable", True)),
                "create_timestamp": TIMESTAMP,
            },
        }

    async def _edit_channel(self, request: web.Request) -> web.Response:
        channel = self.channels.get(request.match_info["channel_id"])
        if channel is None:
            return json_response({"message": "Unknown Channel", "code": 10003}, status=404)
        body = await request.json()
        if "thread_metadata" in channel:
            metadata = {
                k: body[k] for k in ("archived", "locked", "auto_archive_duration") if k in body
            }
            await self._set_thread(channel, name=body.get("name"), **metadata)
        elif "name" in body:
            channel["name"] = body["name"]
        await self._notify()
        return json_response(channel)

    async def _set_thread(self, thread: Payload, name: str | None = None, **metadata: Any) -> None:
        if name is not None:
            thread["name"] = name
        thread["thread_metadata"].update(metadata)
        await self.dispatch("THREAD_UPDATE", thread)

    async def _delete_channel(self, request: web.Request) -> web.Response:
        channel = self.channels.pop(request.match_info["channel_id"], None)
        if channel is None:
            return json_response({"message": "Unknown Channel", "code": 10003}, status=404)
        self.deleted_channels.add(channel["id"])
        for guild in self.guilds:
            for ids in (guild.channel_ids, guild.thread_ids):
                if channel["id"] in ids:
                    ids.remove(channel["id"])
        if "thread_metadata" in channel:
            keys = ("id", "guild_id", "parent_id", "type")
            await self.dispatch("THREAD_DELETE", {key: channel[key] for key in keys})
        await self._notify()
        return json_response(channel)

    async def _pin(self, request: web.Request) -> web.Response:
        channel_id, message_id = request.match_info["channel_id"], request.match_info["message_id"]
        if not any(m.id == message_id and m.channel_id == channel_id for m in self.sent):
            return json_response({"message": "Unknown Message", "code": 10008}, status=404)
        pinned = self.pins.setdefault(channel_id, [])
        if message_id not in pinned:
            pinned.insert(0, message_id)
            system = self._system_message(channel_id, PINNED_MESSAGE, "")
            system["message_reference"] = {"message_id": message_id, "channel_id": channel_id}
            await self.dispatch("MESSAGE_CREATE", system)
        await self._notify()
        return web.Response(status=204)

    def _system_message(self, channel_id: str, kind: int, content: str) -> Payload:
        """A message Discord itself posts (by the bot's hand): a pin, a thread started."""
        payload = self.message_payload(
            SentMessage(self.next_id(), channel_id, {"content": content})
        )
        return {**payload, "type": kind}

    async def _typing(self, request: web.Request) -> web.Response:
        self.typing.append(request.match_info["channel_id"])
        self.typing_at.append((request.match_info["channel_id"], time.perf_counter()))
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

    async def _get_user(self, request: web.Request) -> web.Response:
        user = self.users.get(request.match_info["user_id"])
        if user is None:
            return json_response({"message": "Unknown User", "code": 10013}, status=404)
        return json_response(user)

    # -- REST: application commands and interactions -------------------------------------

    async def _register_commands(self, request: web.Request) -> web.Response:
        """A bulk overwrite, as tree.sync() sends: the registered set becomes exactly this."""
        registered = []
        for command in await request.json():
            known = self.commands.get(command["name"])
            command_id = known["id"] if known else self.next_id()
            registered.append(
                {
                    **command,
                    "id": command_id,
                    "application_id": self.application_id,
                    "version": self.next_id(),
                }
            )
        self.commands = {command["name"]: command for command in registered}
        await self._notify()
        return json_response(registered)

    async def _list_commands(self, request: web.Request) -> web.Response:
        return json_response(list(self.commands.values()))

    async def _callback(self, request: web.Request) -> web.Response:
        log = self.interactions.get(request.match_info["id"])
        if log is None or log.token != request.match_info["token"]:
            return json_response({"message": "Unknown interaction", "code": 10062}, 404)
        if log.callbacks:  # Discord: "Interaction has already been acknowledged."
            return json_response({"message": "Already acknowledged", "code": 40060}, 400)
        body, files = await _read_message_body(request)
        callback = Callback(int(body["type"]), body.get("data") or {}, time.perf_counter())
        log.callbacks.append(callback)
        answer: Payload = {
            "interaction": {
                "id": log.id,
                "type": 2,
                "response_message_loading": callback.type == DEFERRED,
                "response_message_ephemeral": callback.ephemeral,
            }
        }
        if callback.type in (MESSAGE, DEFERRED):
            message = SentMessage(self.next_id(), log.channel_id, callback.data, files)
            self._webhook_messages[message.id] = message
            answer["interaction"]["response_message_id"] = message.id
            answer["resource"] = {"type": callback.type, "message": self.message_payload(message)}
        await self._notify()
        return json_response(answer)

    async def _edit_original(self, request: web.Request) -> web.Response:
        log = self._by_token.get(request.match_info["token"])
        if log is None or not log.callbacks:
            return json_response({"message": "Unknown Webhook", "code": 10015}, 404)
        body, files = await _read_message_body(request)
        log.edits.append(Edit(body, time.perf_counter(), files))
        await self._notify()
        message = SentMessage(log.id, log.channel_id, body, files)
        return json_response(self.message_payload(message))

    async def _edit_followup(self, request: web.Request) -> web.Response:
        log = self._by_token.get(request.match_info["token"])
        message = self._webhook_messages.get(request.match_info["message_id"])
        if log is None or message is None:
            return json_response({"message": "Unknown Message", "code": 10008}, 404)
        body, files = await _read_message_body(request)
        edited = SentMessage(message.id, message.channel_id, {**message.body, **body}, files)
        self._webhook_messages[message.id] = edited
        log.followups = [edited if m.id == message.id else m for m in log.followups]
        await self._notify()
        return json_response(self.message_payload(edited))

    async def _delete_original(self, request: web.Request) -> web.Response:
        log = self._by_token.get(request.match_info["token"])
        if log is None or not log.callbacks or log.deleted:
            return json_response({"message": "Unknown Message", "code": 10008}, 404)
        log.deleted = True
        await self._notify()
        return web.Response(status=204)

    async def _followup(self, request: web.Request) -> web.Response:
        log = self._by_token.get(request.match_info["token"])
        if log is None or not log.callbacks:
            # Discord refuses a follow-up before the interaction was acknowledged.
            return json_response({"message": "Unknown Webhook", "code": 10015}, 404)
        body, files = await _read_message_body(request)
        if log.deferred and not log.edits and not log.followups:
            # It fills the "thinking..." message, which keeps the defer's visibility.
            flags = int(body.get("flags") or 0) & ~EPHEMERAL
            body = {**body, "flags": flags | (EPHEMERAL if log.callbacks[0].ephemeral else 0)}
        message = SentMessage(self.next_id(), log.channel_id, body, files)
        self._webhook_messages[message.id] = message
        log.followups.append(message)
        await self._notify()
        return json_response(self.message_payload(message))

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
            self._live.discard(socket)
        return socket

    async def _on_frame(self, socket: web.WebSocketResponse, frame: Payload) -> None:
        op = frame.get("op")
        if op == HEARTBEAT:
            self.heartbeats.append(time.perf_counter())
            await socket.send_str(json.dumps({"op": HEARTBEAT_ACK}))
        elif op == IDENTIFY:
            self.identify = frame["d"]
            self.identifies.append(frame["d"])
            if self.close_code_on_identify is not None:
                await socket.close(code=self.close_code_on_identify)
                return
            self._new_session()
            self._live.add(socket)
            await self._ready()
        elif op == RESUME:
            await self._resume(socket, frame["d"])
        await self._notify()

    def _new_session(self) -> None:
        """A session starts its sequence numbers again; the last one's events are gone."""
        self.session_id = f"fake-session-{len(self.identifies)}"
        self._seq = 0
        self._dispatched = []

    async def _resume(self, socket: web.WebSocketResponse, resume: Payload) -> None:
        """Replay what the client missed since the sequence it last saw, then RESUMED; a
        session that is not the current one is invalid, as on Discord."""
        self.resumes.append(resume)
        if resume.get("session_id") != self.session_id or resume.get("token") != self.token:
            await _send(socket, {"op": INVALID_SESSION, "d": False})
            return
        seen = int(resume.get("seq") or 0)
        for frame in self._dispatched:
            if frame["s"] > seen:
                await _send(socket, frame)
        self._live.add(socket)
        await self.dispatch("RESUMED", {})

    async def _ready(self) -> None:
        await self.dispatch(
            "READY",
            {
                "v": 10,
                "user": self.bot_user,
                "guilds": [{"id": guild.id, "unavailable": True} for guild in self.guilds],
                "session_id": self.session_id,
                "resume_gateway_url": self.gateway_url,
                "application": {"id": self.application_id, "flags": 0},
                # The shard it identified as ([id, count]); an unsharded client sends none.
                "shard": (self.identify or {}).get("shard", [0, 1]),
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
            # The active threads the bot can see, as Discord lists them on (re)connecting.
            "threads": [
                self.channels[thread_id]
                for thread_id in guild.thread_ids
                if not self.channels[thread_id]["thread_metadata"]["archived"]
            ],
            "members": [],
            "emojis": [],
            "stickers": [],
            "features": [],
        }

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()


async def _send(socket: web.WebSocketResponse, frame: Payload) -> None:
    """A frame to a client, unless its connection is already going (it resumes from there)."""
    if not socket.closed:
        await socket.send_str(json.dumps(frame))


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


def _option_value(value: Any) -> Any:
    """An option's value as Discord sends it: a user as their id."""
    return value["id"] if isinstance(value, dict) else value


def _resolved(
    users: list[Payload], guild_id: str | None, channels: list[Payload] | None = None
) -> Payload:
    """The users and channels an interaction's options name, as Discord resolves them (users
    in a server as members too; channels with the asker's permissions there)."""
    resolved: Payload = {"users": {user["id"]: user for user in users}}
    if channels:
        resolved["channels"] = {c["id"]: {**c, "permissions": "3072"} for c in channels}
    if guild_id is not None:
        member = {"roles": [], "joined_at": TIMESTAMP, "deaf": False, "mute": False, "flags": 0}
        resolved["members"] = {user["id"]: dict(member) for user in users}
    return resolved


def _text_input(component: Payload) -> Payload:
    """The text input in a modal row: an action row (type 1) or a label (type 18)."""
    if component["type"] == 1:
        return component["components"][0]
    if component["type"] == 18:
        return component["component"]
    return component
