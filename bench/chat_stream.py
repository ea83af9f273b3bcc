"""What streaming costs and what it buys, for each chat backend, on this machine.

Local backend (transformers, in this process): the same prompt answered by ainvoke() and by
astream(), greedy, a fixed number of new tokens, interleaved; prints tokens per second
of each, and for the stream the time to its first shown text. Served backend: the same through
ChatOpenAI against the OpenAI-compatible fake on 127.0.0.1 (tests/support/fake_openai.py),
which writes a word every --served-pause-s: the time to the first text against the whole reply,
which is what a person waits for without streaming. Medians of --runs after one warm-up.

    .venv/bin/python bench/chat_stream.py [--chat-model tiny:chat] [--tokens 64] [--runs 5]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402
from langchain_core.language_models import BaseChatModel  # noqa: E402
from langchain_core.messages import HumanMessage  # noqa: E402
from pydantic import SecretStr  # noqa: E402

from agent.chat.backends.served import build_served_model  # noqa: E402
from agent.chat.model import LocalChatModel  # noqa: E402
from agent.config import Settings  # noqa: E402
from tests.support.fake_openai import MODEL, FakeOpenAI  # noqa: E402
from tools.models.text import load_causal_lm  # noqa: E402

PROMPT = [HumanMessage("Tell me, slowly and in detail, about herons standing in the rain.")]


async def timed_invoke(model: BaseChatModel) -> tuple[float, int]:
    started = time.perf_counter()
    reply = await model.ainvoke(PROMPT)
    tokens = (reply.usage_metadata or {}).get("output_tokens", 0)
    return time.perf_counter() - started, tokens


async def timed_stream(model: BaseChatModel) -> tuple[float, float, int]:
    """Seconds to the first text, seconds to the end, output tokens."""
    started = time.perf_counter()
    first: float | None = None
    whole = None
    async for chunk in model.astream(PROMPT):
        if first is None and chunk.text:
            first = time.perf_counter() - started
        whole = chunk if whole is None else whole + chunk
    tokens = (whole.usage_metadata or {}).get("output_tokens", 0) if whole is not None else 0
    return first or 0.0, time.perf_counter() - started, tokens


async def local(spec: str, tokens: int, runs: int) -> None:
    loaded = load_causal_lm(spec, cache_dir=Path(tempfile.mkdtemp()), device="cpu")
    model = LocalChatModel(loaded=loaded, temperature=0.0, max_new_tokens=tokens)
    await timed_invoke(model), await timed_stream(model)  # warm-up
    invoked, streamed = [], []
    for _ in range(runs):  # interleaved, so a busy machine slows both alike
        invoked.append(await timed_invoke(model))
        streamed.append(await timed_stream(model))
    invoke_rate = statistics.median(n / s for s, n in invoked)
    stream_rate = statistics.median(n / s for _, s, n in streamed)
    first = statistics.median(f for f, _, _ in streamed)
    whole = statistics.median(s for _, s, _ in streamed)
    print(f"local {spec} ({loaded.dtype}, {torch.get_num_threads()} threads, {tokens} tokens):")
    print(f"  ainvoke {invoke_rate:.1f} tok/s; astream {stream_rate:.1f} tok/s")
    print(f"  first text after {first * 1000:.0f} ms of {whole * 1000:.0f} ms")


async def served(words: int, pause_s: float, runs: int) -> None:
    engine = FakeOpenAI()
    await engine.start()
    try:
        settings = Settings(chat_base_url=engine.base_url, chat_api_key=SecretStr("k"))
        model = build_served_model(settings, MODEL)
        text = " ".join(f"word{i}" for i in range(words))
        results = []
        for _ in range(runs + 1):
            engine.say(text, pause_s=pause_s)
            results.append(await timed_stream(model))
        first = statistics.median(f for f, _, _ in results[1:])
        whole = statistics.median(s for _, s, _ in results[1:])
        print(f"served (fake engine, {words} words, {pause_s * 1000:.0f} ms apart):")
        print(f"  first text after {first * 1000:.0f} ms; whole reply {whole * 1000:.0f} ms")
    finally:
        await engine.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chat-model", default="tiny:chat")
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--served-words", type=int, default=40)
    parser.add_argument("--served-pause-s", type=float, default=0.02)
    args = parser.parse_args()
    asyncio.run(local(args.chat_model, args.tokens, args.runs))
    asyncio.run(served(args.served_words, args.served_pause_s, args.runs))


if __name__ == "__main__":
    main()
