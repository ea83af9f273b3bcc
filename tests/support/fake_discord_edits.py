"""The fake Discord (fake_discord.py), also taking edits of the bot's channel messages
(PATCH /channels/{channel}/messages/{message}), as a streamed chat reply makes them: each edit
is kept with the time it arrived, the message in `sent` shows the edited body, and `posted`
keeps each edited message as it was first sent."""

from __future__ import annotations

import dataclasses
import re
import time
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from tests.support.fake_discord import (
    API_PREFIX,
    FakeDiscord,
    Payload,
    SentMessage,
    _read_message_body,
    json_response,
)

_EDIT = re.compile(rf"{API_PREFIX}/channels/(\d+)/messages/(\d+)")


@dataclass(frozen=True)
class MessageEdit:
    message_id: str
    body: Payload
    at: float  # perf_counter(), like SentMessage.at

    @property
    def content(self) -> str:
        return str(self.body.get("content") or "")


class EditingFakeDiscord(FakeDiscord):
    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.message_edits: list[MessageEdit] = []
        self.posted: dict[str, SentMessage] = {}

    @web.middleware
    async def _record_and_inject(self, request: web.Request, handler: Any) -> web.StreamResponse:
        match = _EDIT.fullmatch(request.path) if request.method == "PATCH" else None
        if match is None:
            return await super()._record_and_inject(request, handler)
        self.requests.append((request.method, request.path.removeprefix(API_PREFIX)))
        if request.headers.get("Authorization") != f"Bot {self.token}":
            return json_response({"message": "401: Unauthorized", "code": 0}, status=401)
        message_id = match.group(2)
        body, files = await _read_message_body(request)
        index = next((i for i, m in enumerate(self.sent) if m.id == message_id), None)
        if index is None:
            return json_response({"message": "Unknown Message", "code": 10008}, status=404)
        old = self.sent[index]
        self.posted.setdefault(message_id, old)
        edited: SentMessage = dataclasses.replace(
            old, body={**old.body, **body}, files=files or old.files
        )
        self.sent[index] = edited
        self.message_edits.append(MessageEdit(message_id, body, time.perf_counter()))
        await self._notify()
        return json_response(self.message_payload(edited))
