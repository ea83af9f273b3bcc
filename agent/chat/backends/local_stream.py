"""The local model's replies streamed: generate() in a worker thread feeding transformers'
TextIteratorStreamer, read here piece by piece, and handed to LangChain as chunks
(LocalChatModel's _stream and _astream in agent/chat/model.py).

What may be shown while it streams is the plain text before any tool call and any stop string:
a suffix that could be the start of one (`<tool_c`) is held back until the next piece tells,
and so is trailing whitespace (the finished reply is stripped; what was shown stays a prefix of
it). The finished reply itself is parsed as a whole by agent/chat/model.py, as when nothing
streams, and its last chunk carries the rest of it: the text not shown, the tool calls, usage.
"""

from __future__ import annotations

import asyncio
import json
import queue
import threading
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun
from langchain_core.messages import AIMessageChunk
from langchain_core.outputs import ChatGenerationChunk
from transformers import PreTrainedTokenizerBase, TextIteratorStreamer

from agent.chat.backends.local_reply import Call, Completion, cut_at_stop, message_fields
from agent.chat.toolcalls import CALL_OPEN

T = TypeVar("T")
# Seconds the reader waits for the next piece before it looks whether generation died.
_POLL_S = 0.5


class StreamedGeneration:
    """The text generate() writes, in pieces as it writes them (iterate once), and how many
    tokens it wrote. A failure in generate() is raised by the iteration, once what it wrote
    before failing has been read."""

    def __init__(
        self,
        generate: Callable[..., Any],
        tokenizer: PreTrainedTokenizerBase,
        **generate_kwargs: Any,
    ) -> None:
        self._generate = generate
        self._kwargs = generate_kwargs
        self._streamer = _CountingStreamer(
            tokenizer, skip_prompt=True, skip_special_tokens=True, timeout=_POLL_S
        )

    @property
    def tokens(self) -> int:
        return self._streamer.tokens

    def __iter__(self) -> Iterator[str]:
        streamer = self._streamer
        failure: list[BaseException] = []

        def run() -> None:
            try:
                self._generate(streamer=streamer, **self._kwargs)
            except BaseException as error:  # noqa: BLE001 - handed to the reader, raised there
                failure.append(error)
                streamer.end()

        worker = threading.Thread(target=run, name="chat-stream", daemon=True)
        worker.start()
        while True:
            try:
                piece = next(streamer)
            except StopIteration:
                break
            except queue.Empty:  # nothing yet: wait on, unless the worker died without end()
                if worker.is_alive():
                    continue
                break
            yield piece
        worker.join()
        if failure:
            raise failure[0]


class _CountingStreamer(TextIteratorStreamer):
    """Counts the new tokens it is handed: the text alone would have to be encoded again."""

    tokens = 0

    def put(self, value: Any) -> None:
        if not (self.skip_prompt and self.next_tokens_are_prompt):
            self.tokens += int(value.numel())
        super().put(value)


def stream_chunks(
    generation: StreamedGeneration,
    call: Call,
    *,
    model: str,
    on_token: Callable[[str], object] | None,
) -> Iterator[ChatGenerationChunk]:
    """The reply `generation` writes for `call`, as LangChain chunks: one each time more of
    its plain text may be shown, then the last, made from the whole reply parsed (the model's
    name in its metadata)."""
    request = call.request
    markers = [*call.stops, CALL_OPEN] if request.offered else call.stops
    written, shown = request.forced_prefix, ""
    for piece in generation:
        written += piece
        now = showable(written, markers)
        if len(now) > len(shown):
            delta, shown = now[len(shown) :], now
            if on_token is not None:
                on_token(delta)
            yield ChatGenerationChunk(message=AIMessageChunk(content=delta))
    said = written[len(request.forced_prefix) :]
    completion = _completion(call, said, generation.tokens)
    yield last_chunk(message_fields(completion, request, model), shown)


def _completion(call: Call, written: str, output_tokens: int) -> Completion:
    """A streamed reply as a Completion, as LocalChatModel._complete makes one."""
    text, stopped = cut_at_stop(written, call.stops)
    ended = stopped or output_tokens < call.options.max_new_tokens
    return Completion(
        text=text.strip(),
        input_tokens=call.prompt_tokens,
        output_tokens=output_tokens,
        finish_reason="stop" if ended else "length",
    )


def last_chunk(fields: Mapping[str, Any], shown: str) -> ChatGenerationChunk:
    """The content not yet streamed, the tool calls, usage and the finish reason."""
    content = str(fields["content"])
    rest = content[len(shown) :] if content.startswith(shown) else ""
    # As chunks: an aggregated stream rebuilds its calls from them (a malformed call's
    # text fails to parse there again, and stays invalid).
    calls = [
        {"name": c["name"], "args": json.dumps(c["args"]), "id": c["id"]}
        for c in fields.get("tool_calls", [])
    ] + [
        {"name": c["name"], "args": c["args"], "id": c["id"]}
        for c in fields.get("invalid_tool_calls", [])
    ]
    metadata = fields["response_metadata"]
    message = AIMessageChunk(
        content=rest,
        tool_call_chunks=[{**call, "index": index} for index, call in enumerate(calls)],
        usage_metadata=fields["usage_metadata"],
        response_metadata=metadata,
        chunk_position="last",
    )
    return ChatGenerationChunk(
        message=message, generation_info={"finish_reason": metadata["finish_reason"]}
    )


async def told_in_thread(
    stream: Callable[[], Iterator[ChatGenerationChunk]],
    run_manager: AsyncCallbackManagerForLLMRun | None,
) -> AsyncIterator[ChatGenerationChunk]:
    """The chunks of `stream()`, made in one worker thread (iterated_in_thread), each one's
    text told to the run's callbacks as it reaches the event loop."""
    async for chunk in iterated_in_thread(stream):
        if run_manager and chunk.text:
            await run_manager.on_llm_new_token(chunk.text, chunk=chunk)
        yield chunk


def showable(text: str, markers: Sequence[str]) -> str:
    """What of `text` may be shown now: before the first marker, without a suffix that could
    start one, without leading or trailing whitespace."""
    cuts = [index for index in (text.find(m) for m in markers if m) if index >= 0]
    if cuts:
        return text[: min(cuts)].strip()
    held = max((_overlap(text, m) for m in markers if m), default=0)
    return text[: len(text) - held].strip()


def _overlap(text: str, marker: str) -> int:
    """The length of the longest end of `text` that `marker` starts with."""
    for size in range(min(len(text), len(marker) - 1), 0, -1):
        if marker.startswith(text[-size:]):
            return size
    return 0


async def iterated_in_thread(make: Callable[[], Iterator[T]]) -> AsyncIterator[T]:
    """What `make()` yields, produced in one worker thread and handed to the event loop as it
    comes. LangChain's default async stream moves every next() to an executor thread and back,
    which costs more than a small model's token."""
    loop = asyncio.get_running_loop()
    items: asyncio.Queue[T | _End] = asyncio.Queue()

    def produce() -> None:
        end = _End()
        try:
            for item in make():
                loop.call_soon_threadsafe(items.put_nowait, item)
        except BaseException as error:  # noqa: BLE001 - raised on the loop, below
            end.error = error
        loop.call_soon_threadsafe(items.put_nowait, end)

    worker = asyncio.create_task(asyncio.to_thread(produce))  # to_thread: contextvars follow
    while not isinstance(item := await items.get(), _End):
        yield item
    await worker
    if item.error is not None:
        raise item.error


class _End:
    error: BaseException | None = None
