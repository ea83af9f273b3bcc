"""Text as the local model writes it: generate() in a worker thread feeding transformers'
TextIteratorStreamer, read here piece by piece.

What may be shown while it streams is the plain text before any tool call and any stop string:
a suffix that could be the start of one (`<tool_c`) is held back until the next piece tells,
and so is trailing whitespace (the finished reply is stripped; what was shown stays a prefix of
it). The finished reply itself is parsed as a whole by agent/chat/model.py, as when nothing
streams.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import Any, TypeVar

from transformers import PreTrainedTokenizerBase, TextIteratorStreamer

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
