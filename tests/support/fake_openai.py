"""A small OpenAI-compatible chat server on 127.0.0.1, as vLLM, SGLang, llama.cpp's server and
Ollama serve one: GET /v1/models and POST /v1/chat/completions, plain JSON or streamed as
server-sent events (`data: {chunk}` lines, then `data: [DONE]`), with tool calls.

Tests script what the "model" says next (`say`, `call`): each request takes the next scripted
answer, or an echo of the last user message when none is left. A streamed text goes out a word
per chunk, `pause_s` apart; a tool call goes out as OpenAI streams one (the name, then the
arguments in pieces). Every request is kept (`requests`: the JSON body and the Authorization
header), so a test sees the prompt, the tools offered and the key. `drop_after` cuts a stream
after that many chunks, as a crashed engine would.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

Payload = dict[str, Any]
MODEL = "fake-served-model"


@dataclass(frozen=True)
class Scripted:
    """One answer: text, or tool calls (name, arguments) with optional text before them."""

    text: str = ""
    calls: tuple[tuple[str, Payload], ...] = ()
    pause_s: float = 0.0  # between streamed chunks
    drop_after: int | None = None  # chunks sent before the connection is cut


@dataclass(frozen=True)
class Received:
    body: Payload
    authorization: str | None
    at: float = field(default_factory=time.perf_counter)

    @property
    def last_user_text(self) -> str:
        users = [m for m in self.body.get("messages", []) if m.get("role") == "user"]
        return str(users[-1].get("content") or "") if users else ""

    @property
    def tool_names(self) -> list[str]:
        return [tool["function"]["name"] for tool in self.body.get("tools") or []]


class FakeOpenAI:
    def __init__(self, *, models: tuple[str, ...] = (MODEL,)) -> None:
        self.models = models
        self.requests: list[Received] = []
        self._script: list[Scripted] = []
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def say(self, text: str, *, pause_s: float = 0.0, drop_after: int | None = None) -> None:
        self._script.append(Scripted(text=text, pause_s=pause_s, drop_after=drop_after))

    def call(self, name: str, arguments: Payload, *, text: str = "") -> None:
        self._script.append(Scripted(text=text, calls=((name, arguments),)))

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/v1/models", self._models)
        app.router.add_post("/v1/chat/completions", self._completions)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _models(self, request: web.Request) -> web.Response:
        data = [
            {"id": name, "object": "model", "created": 0, "owned_by": "fake"}
            for name in self.models
        ]
        return web.json_response({"object": "list", "data": data})

    async def _completions(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        received = Received(body, request.headers.get("Authorization"))
        self.requests.append(received)
        if body.get("model") not in self.models:
            error = {"message": f"model {body.get('model')!r} not found", "type": "NotFound"}
            return web.json_response({"error": error}, status=404)
        answer = (
            self._script.pop(0)
            if self._script
            else Scripted(text=f"echo: {received.last_user_text}")
        )
        if body.get("stream"):
            return await self._stream(request, body, answer)
        return web.json_response(_completion(body["model"], answer))

    async def _stream(
        self, request: web.Request, body: Payload, answer: Scripted
    ) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        chunks = _chunks(body["model"], answer)
        if (body.get("stream_options") or {}).get("include_usage"):
            chunks.append(_chunk(body["model"], [], usage=_usage(answer)))
        for sent, chunk in enumerate(chunks):
            if answer.drop_after is not None and sent >= answer.drop_after:
                assert request.transport is not None
                request.transport.close()  # mid-stream, as an engine that died
                return response
            await response.write(f"data: {json.dumps(chunk)}\n\n".encode())
            if answer.pause_s:
                await asyncio.sleep(answer.pause_s)  # the engine's own pace between tokens
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response


def _words(text: str) -> list[str]:
    words = text.split(" ")
    return [word if index == 0 else " " + word for index, word in enumerate(words)] if text else []


def _chunks(model: str, answer: Scripted) -> list[Payload]:
    chunks = [_chunk(model, [{"index": 0, "delta": {"role": "assistant", "content": ""}}])]
    chunks += [_chunk(model, [{"index": 0, "delta": {"content": w}}]) for w in _words(answer.text)]
    for index, (name, arguments) in enumerate(answer.calls):
        call_id = f"call_{index}_{name}"
        opening = {
            "index": index,
            "id": call_id,
            "type": "function",
            "function": {"name": name, "arguments": ""},
        }
        chunks.append(_chunk(model, [{"index": 0, "delta": {"tool_calls": [opening]}}]))
        text = json.dumps(arguments)
        for start in range(0, len(text), 8):
            piece = {"index": index, "function": {"arguments": text[start : start + 8]}}
            chunks.append(_chunk(model, [{"index": 0, "delta": {"tool_calls": [piece]}}]))
    reason = "tool_calls" if answer.calls else "stop"
    chunks.append(_chunk(model, [{"index": 0, "delta": {}, "finish_reason": reason}]))
    return chunks


def _chunk(model: str, choices: list[Payload], usage: Payload | None = None) -> Payload:
    chunk: Payload = {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": model,
        "choices": choices,
    }
    if usage is not None:
        chunk["usage"] = usage
    return chunk


def _completion(model: str, answer: Scripted) -> Payload:
    message: Payload = {"role": "assistant", "content": answer.text or None}
    if answer.calls:
        message["tool_calls"] = [
            {
                "id": f"call_{index}_{name}",
                "type": "function",
                "function": {"name": name, "arguments": json.dumps(arguments)},
            }
            for index, (name, arguments) in enumerate(answer.calls)
        ]
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": "tool_calls" if answer.calls else "stop",
            }
        ],
        "usage": _usage(answer),
    }


def _usage(answer: Scripted) -> Payload:
    completion = len(_words(answer.text)) + 8 * len(answer.calls)
    return {"prompt_tokens": 12, "completion_tokens": completion, "total_tokens": 12 + completion}
