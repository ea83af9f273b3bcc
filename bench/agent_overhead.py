"""What a turn costs outside the models: routing, prompt building, parsing, the database.

Run:
    .venv/bin/python bench/agent_overhead.py
    .venv/bin/python bench/agent_overhead.py --turns 200 --max-new-tokens 16
    .venv/bin/python bench/agent_overhead.py --chat-model bundled:smollm2

A real Agent (assembled as the app assembles it, on a fresh SQLite database migrated by
Alembic in a temporary directory) on the tiny random-weight chat model answers a mix of turns
(the tiny model routes at random; with --chat-model bundled:smollm2 the routing is real):

    chat      free text answered by the chat model
    command   an explicit tool command (`/verse ...`) that makes and stores an artifact
    routed    free text asking for a poem, which the router sends to the same tool
              (constrained routing scores the choices with the chat model; every free-text
              turn, chat included, is routed first, as in the app)

Each turn's wall time is split into model time, tool compute (timed around the tool's run
function) and the rest: the agent's overhead, as median and p99 per kind and overall. Model
time is reported two ways, because Hugging Face generate() runs a Python loop per token
around the forward passes:

    overhead      wall - time inside generate() and forward passes - tool compute: the
                  agent's own cost (routing logic, prompt building, parsing, the database)
    + gen. loop   the same, also counting generate()'s per-token loop as overhead
                  (it grows with the tokens generated, --max-new-tokens, and with the
                  summaries the agent writes when a history overflows)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from pydantic import Field  # noqa: E402

from agent.chat.model import build_chat_model  # noqa: E402
from agent.config import Settings  # noqa: E402
from agent.factory import assemble_agent, routing_mode  # noqa: E402
from agent.jobs import JobLimits, Jobs  # noqa: E402
from agent.store.engine import create_engine, session_factory  # noqa: E402
from agent.store.migrate import upgrade  # noqa: E402
from agent.types import Command, Place, Reply, Turn, UserRef  # noqa: E402
from tools.catalog import POEM  # noqa: E402
from tools.contract import (  # noqa: E402
    ArtifactDraft,
    ArtifactKind,
    NoModels,
    Tool,
    ToolArgs,
    ToolContext,
)
from tools.models.text import LoadedCausalLM, load_causal_lm  # noqa: E402

PROMPTS = (
    "a heron standing in the rain",
    "the harbour at night, lamps on the water",
    "my grandmother's kitchen in winter",
    "a city waking up, trams and bread",
)


@dataclass
class Stopwatch:
    """Seconds spent inside a region, summed across threads (one turn runs at a time)."""

    seconds: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _started: dict[int, float] = field(default_factory=dict)

    def start(self, *_: Any) -> None:
        self._started[threading.get_ident()] = time.perf_counter()

    def stop(self, *_: Any) -> None:
        elapsed = time.perf_counter() - self._started.pop(threading.get_ident())
        with self._lock:
            self.seconds += elapsed

    def take(self) -> float:
        with self._lock:
            seconds, self.seconds = self.seconds, 0.0
        return seconds


class BenchPoemArgs(ToolArgs):
    prompt: str = Field(description="what the poem is about", min_length=1, max_length=500)


def make_tool(watch: Stopwatch) -> Tool:
    def write(args: BenchPoemArgs, context: ToolContext) -> ArtifactDraft:
        watch.start()
        try:
            lines = [f"on {args.prompt}", "a second line", "and a third to close"]
            return ArtifactDraft(ArtifactKind.POEM, text="\n".join(lines), params={"lines": 3})
        finally:
            watch.stop()

    info = POEM
    return Tool(
        info.name, info.description, ArtifactKind.POEM, BenchPoemArgs, write, examples=info.examples
    )


class ModelClock:
    """Time spent in the model during a turn: forward passes (hooks on the model) and whole
    generate() calls (a wrapper), with the forward passes made inside generate() kept apart
    so that generation is not counted twice."""

    def __init__(self, loaded: LoadedCausalLM) -> None:
        self.forward, self.generation = Stopwatch(), Stopwatch()
        self.forward_in_generation = Stopwatch()
        self._generating = threading.local()
        loaded.model.register_forward_pre_hook(self._forward_starts)
        loaded.model.register_forward_hook(self._forward_stops)
        generate = loaded.model.generate

        def timed_generate(*args: Any, **kwargs: Any) -> Any:
            self._generating.on = True
            self.generation.start()
            try:
                return generate(*args, **kwargs)
            finally:
                self.generation.stop()
                self._generating.on = False

        loaded.model.generate = timed_generate  # type: ignore[method-assign]

    def _forward_starts(self, *_: Any) -> None:
        self.forward.start()
        if getattr(self._generating, "on", False):
            self.forward_in_generation.start()

    def _forward_stops(self, *_: Any) -> None:
        self.forward.stop()
        if getattr(self._generating, "on", False):
            self.forward_in_generation.stop()

    def take(self) -> tuple[float, float, float]:
        """(all forward passes, generate() calls, forward passes inside generate())."""
        return self.forward.take(), self.generation.take(), self.forward_in_generation.take()


@dataclass(frozen=True)
class Sample:
    kind: str
    wall: float
    forward: float  # every forward pass: routing's scoring and those inside generate()
    generation: float  # inside generate(): its forward passes and its per-token loop
    forward_in_generation: float
    tool: float

    @property
    def model(self) -> float:
        return self.generation + self.forward - self.forward_in_generation

    @property
    def overhead(self) -> float:
        return self.wall - self.model - self.tool

    @property
    def overhead_with_loop(self) -> float:
        return self.wall - self.forward - self.tool


async def run(args: argparse.Namespace, workdir: Path) -> list[Sample]:
    url = f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
    await asyncio.to_thread(upgrade, url)
    loaded = load_causal_lm(
        args.chat_model, cache_dir=args.models_dir, device="cpu", dtype="float32"
    )
    clock, tool_time = ModelClock(loaded), Stopwatch()
    settings = Settings(
        data_dir=workdir, max_new_tokens=args.max_new_tokens, temperature=0.0, routing=args.routing
    )
    engine = create_engine(url)
    jobs = Jobs(JobLimits())
    agent = assemble_agent(
        settings,
        sessions=session_factory(engine),
        chat_model=build_chat_model(settings, loaded),
        tools=[make_tool(tool_time)],
        models=NoModels(),
        jobs=jobs,
    )
    kinds = ["chat", "command", "routed"]
    samples: list[Sample] = []
    made = dict.fromkeys(kinds, 0)
    try:
        for i in range(args.warmup + args.turns):
            kind = kinds[i % len(kinds)]
            turn = _turn(kind, i, args.users)
            clock.take(), tool_time.take()
            start = time.perf_counter()
            reply = await agent.respond(turn)
            wall = time.perf_counter() - start
            if i >= args.warmup:
                samples.append(Sample(kind, wall, *clock.take(), tool_time.take()))
                made[kind] += _made_a_piece(reply)
    finally:
        jobs.shutdown()
        await engine.dispose()
    print(f"routing: {routing_mode(settings.routing, loaded)} (setting {settings.routing!r})")
    print(f"chat model: {loaded.spec}; turns that made a piece, per kind: {made}")
    return samples


def _made_a_piece(reply: Reply) -> int:
    return int(bool(reply.artifacts))


def _turn(kind: str, i: int, users: int) -> Turn:
    user = UserRef(f"user{i % users}", f"User {i % users}")
    place = Place(channel_id="bench", guild_id="g")
    prompt = PROMPTS[i % len(PROMPTS)]
    if kind == "command":
        return Turn("bench", user, place, command=Command("poem", {}, prompt))
    if kind == "routed":
        return Turn("bench", user, place, f"write me a poem about {prompt}")
    return Turn("bench", user, place, f"what do you think about {prompt}?")


def report(samples: Sequence[Sample], max_new_tokens: int) -> None:
    groups = {kind: [s for s in samples if s.kind == kind] for kind in _kinds(samples)}
    groups["all"] = list(samples)
    print(
        f"{'kind':<8} {'n':>4} {'overhead med':>13} {'p99':>7} {'+ gen. loop med':>16} "
        f"{'wall med':>10} {'model med':>10}"
    )
    for kind, group in groups.items():
        overhead = [s.overhead * 1e3 for s in group]
        print(
            f"{kind:<8} {len(group):>4} {statistics.median(overhead):>10.2f} ms "
            f"{_p99(overhead):>7.2f} {_median_ms(s.overhead_with_loop for s in group):>13.2f} ms "
            f"{_median_ms(s.wall for s in group):>7.2f} ms "
            f"{_median_ms(s.model for s in group):>7.2f} ms"
        )
    print()
    for kind, group in groups.items():
        median = _median_ms(s.overhead for s in group)
        print(
            f"{kind}: overhead median < 20 ms: {'yes' if median < 20 else 'no'} ({median:.2f} ms)"
        )
    print(f"(chat replies capped at {max_new_tokens} new tokens; times in ms, medians over turns)")


def _kinds(samples: Sequence[Sample]) -> list[str]:
    return list(dict.fromkeys(s.kind for s in samples))


def _median_ms(seconds: Iterable[float]) -> float:
    return statistics.median(seconds) * 1e3


def _p99(values: Sequence[float]) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[98]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--users", type=int, default=5)
    parser.add_argument("--max-new-tokens", type=int, default=16)
    parser.add_argument("--models-dir", type=Path, default=Path("data/test-models"))
    parser.add_argument("--routing", choices=("auto", "constrained", "tools"), default="auto")
    # tiny:chat (random weights) routes at random; bundled:smollm2 routes as the app would.
    parser.add_argument("--chat-model", default="tiny:chat")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="atelier-bench-") as workdir:
        samples = asyncio.run(run(args, Path(workdir)))
    report(samples, args.max_new_tokens)


if __name__ == "__main__":
    main()
