"""The local backend streams: transformers' TextIteratorStreamer in a worker thread, pieces of
text as they are written, the finished message the same as an unstreamed reply."""

from __future__ import annotations

import pytest
import torch
from langchain_core.messages import AIMessageChunk, HumanMessage
from transformers import TextIteratorStreamer

from agent.chat.backends.cuda_speed import compiled_generation
from agent.chat.backends.local_stream import StreamedGeneration, iterated_in_thread, showable
from agent.chat.model import LocalChatModel
from agent.chat.toolcalls import CALL_OPEN
from tools.models.text import LoadedCausalLM


async def test_a_streamed_local_reply_comes_in_pieces_and_ends_as_the_whole_reply(
    tiny_chat: LoadedCausalLM,
) -> None:
    model = LocalChatModel(loaded=tiny_chat, temperature=0.0, max_new_tokens=12)
    asked = [HumanMessage("tell me about herons")]

    whole = await model.ainvoke(asked)
    chunks = [chunk async for chunk in model.astream(asked)]

    assert len([c for c in chunks if c.content]) > 1  # pieces, not one block at the end
    streamed = chunks[0]
    for chunk in chunks[1:]:
        streamed += chunk
    assert isinstance(streamed, AIMessageChunk)
    assert streamed.content == whole.content
    assert streamed.usage_metadata == whole.usage_metadata
    assert streamed.response_metadata["finish_reason"] == whole.response_metadata["finish_reason"]


def test_text_that_may_open_a_tool_call_or_a_stop_string_is_held_back() -> None:
    markers = [CALL_OPEN, "\nUser:"]
    assert showable("Let me paint that <tool_c", markers) == "Let me paint that"
    assert showable('Sure. <tool_call>{"name": "image"}', markers) == "Sure."
    assert showable("A heron.\nUs", markers) == "A heron."
    assert showable("  A heron stands  ", markers) == "A heron stands"


def test_the_compiled_static_cache_is_for_cuda_only_and_can_be_turned_off() -> None:
    assert compiled_generation(torch.device("cpu"), enabled=True, cache_tokens=1736) == {}
    assert compiled_generation(torch.device("cuda"), enabled=False, cache_tokens=1736) == {}
    on_gpu = compiled_generation(torch.device("cuda"), enabled=True, cache_tokens=1736)
    assert on_gpu["cache_implementation"] == "static"
    assert on_gpu["max_cache_len"] >= 1736 and on_gpu["max_cache_len"] % 256 == 0


async def test_a_generation_that_fails_midway_raises_after_what_it_wrote(
    tiny_chat: LoadedCausalLM,
) -> None:
    tokenizer = tiny_chat.tokenizer
    words = tokenizer(" heron heron heron", add_special_tokens=False, return_tensors="pt")

    def generate(streamer: TextIteratorStreamer, **_: object) -> None:
        streamer.put(words["input_ids"][0])  # the "prompt", skipped
        streamer.put(words["input_ids"][0])
        raise RuntimeError("CUDA out of memory")

    generation = StreamedGeneration(generate, tokenizer)
    written: list[str] = []
    with pytest.raises(RuntimeError, match="out of memory"):
        async for piece in iterated_in_thread(lambda: iter(generation)):
            written.append(piece)
    assert "heron" in "".join(written)  # what came before the failure was shown
    assert generation.tokens == words["input_ids"].shape[1]
