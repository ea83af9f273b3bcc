"""Batching across people: eight people's images, clips, poem drafts and routed requests
through the model scheduler as one batch, against the same eight run one by one, in the same
run on the same model.

Run:

    .venv/bin/python bench/batching.py            # CPU: the tiny image and music models
    python3 bench/batching.py                     # CUDA: sd-turbo's and musicgen-small's
                                                  # architectures, random weights (no download)

Each side is the tool's own run function (tools/image/tool.py make_image, tools/music/tool.py
compose: args, seed, recipe, the model, the PNG or the OGG with its parameters). Batched:
eight threads, one per person, each with its own lane into one scheduler (tools/scheduling/,
a 20 ms window, batches up to eight), all asking at once; one by one: the same eight
requests in turn, each alone. Text is the bundled SmolLM2 (real weights, float32): a
poem draft is tools/models/sampling.py `sample` (one reply, --text-tokens new tokens), a
routed request is agent/chat/routing.py `ChoiceScorer.scores` over every tool's choices.
Both sides are warmed up at their shapes first (on CUDA this includes any capture or
compile), then timed --runs times, interleaved; the medians and their ratio (one by one /
batched: how many times faster batching serves the eight) are printed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402

from tools.contract import ToolContext  # noqa: E402
from tools.scheduling.queue import Batching  # noqa: E402
from tools.scheduling.scheduler import Scheduler  # noqa: E402

PEOPLE = 8
PROMPTS = [
    "a lighthouse in fog, oil painting",
    "a red fox in snow",
    "a city at night, neon rain",
    "a bowl of lemons, watercolour",
    "mountains at dawn",
    "a cat asleep on a piano",
    "a paper boat on a river",
    "an orchard in spring",
]
DESCRIPTIONS = [
    "rainy night jazz with slow brushes",
    "calm ambient synth pads",
    "upbeat rock with electric guitar",
    "a sad violin melody",
    "solo piano, gentle",
    "bright acoustic guitar, playful",
    "epic orchestral strings and brass",
    "lofi hip hop beat",
]

Ask = Callable[[int, ToolContext], Any]  # person's index, their context -> the draft


class Models:
    def __init__(self, **roles: Any) -> None:
        self._roles = roles

    def get(self, role: str) -> Any:
        return self._roles[role]


def one_by_one(ask: Ask, models: Models) -> float:
    started = time.perf_counter()
    for person in range(PEOPLE):
        ask(person, ToolContext(models))
    return time.perf_counter() - started


def batched(ask: Ask, models: Models, scheduler: Scheduler, pool: ThreadPoolExecutor) -> float:
    started = time.perf_counter()
    asked = [
        pool.submit(ask, person, ToolContext(models, lane=scheduler.lane(f"person {person}")))
        for person in range(PEOPLE)
    ]
    for job in asked:
        job.result()
    return time.perf_counter() - started


def compare(name: str, ask: Ask, models: Models, runs: int) -> None:
    scheduler = Scheduler(Batching(default_max=PEOPLE))
    with ThreadPoolExecutor(PEOPLE) as pool:
        batched(ask, models, scheduler, pool)  # warm-up at both shapes
        one_by_one(ask, models)
        alone, together = [], []
        for _ in range(runs):
            alone.append(one_by_one(ask, models))
            together.append(batched(ask, models, scheduler, pool))
    scheduler.shutdown()
    a, b = statistics.median(alone), statistics.median(together)
    print(
        f"{name:<34} {a:>10.3f} {b:>10.3f} {a / b:>7.2f}x {PEOPLE / a:>10.2f} {PEOPLE / b:>10.2f}"
    )


def image_side(spec: str, cache: Path, device: torch.device) -> tuple[str, Ask, Models]:
    from tools.image.pipeline import load_image_pipeline
    from tools.image.tool import ImageArgs, make_image

    loaded = load_image_pipeline(spec, cache_dir=cache, device=device.type)
    size = loaded.defaults.native

    def ask(person: int, context: ToolContext) -> Any:
        return make_image(ImageArgs(prompt=PROMPTS[person], seed=person), context)

    steps = loaded.defaults.steps
    return f"images {size}x{size}, {steps} step(s)", ask, Models(image=loaded)


def music_side(small: bool, cache: Path, device: torch.device, seconds: float) -> tuple:
    from tools.music.model import load_music_model
    from tools.music.tool import MusicArgs, compose

    if small:
        from bench.music import random_musicgen_small

        loaded, name = random_musicgen_small(device), "musicgen-small arch."
    else:
        loaded, name = load_music_model("tiny:music", cache_dir=cache, device="cpu"), "tiny"

    def ask(person: int, context: ToolContext) -> Any:
        args = MusicArgs(description=DESCRIPTIONS[person], duration=seconds, seed=person)
        return compose(args, context)

    return f"clips of {seconds:g} s ({name})", ask, Models(music=loaded)


REQUESTS = [
    "write a haiku about the sea",
    "draw a heron at dawn",
    "compose a lullaby for my daughter",
    "what do you think of #3",
    "make it darker",
    "写一首关于春天的诗",
    "hello, how are you today?",
    "a sonnet about autumn rain on the roofs",
]


class ThisThreadsLane:
    """The lane of whatever tool run is on this thread (tools/scheduling/current.py): one
    scorer, with its prefixes cached once, serves every person's context."""

    def run(self, work: Any, progress: Any, check: Any) -> Any:
        from tools.scheduling.current import through_the_line

        return through_the_line(work)


def text_sides(models_dir: Path, tokens: int) -> list[tuple[str, Ask, Models]]:
    from agent.chat.routing import ChoiceScorer
    from tools.catalog import JUST_ANSWER, REVISE_FOCUS
    from tools.lineup import creative_tools
    from tools.models.sampling import Sampling, sample
    from tools.models.text import load_causal_lm
    from tools.scheduling.current import scheduling_for

    loaded = load_causal_lm("bundled:smollm2", cache_dir=models_dir, device="auto", dtype="float32")
    sampling = Sampling(max_new_tokens=tokens)
    served = [info for tool in creative_tools() for info in (tool.info, *tool.also_serves)]
    choices = [JUST_ANSWER, REVISE_FOCUS, *served]
    scorer = ChoiceScorer(loaded, ThisThreadsLane())

    def draft(person: int, context: ToolContext) -> Any:
        asked = [{"role": "user", "content": f"Write a short poem: {PROMPTS[person]}"}]
        with scheduling_for(context.schedule):
            return sample(loaded, asked, count=1, seed=person, sampling=sampling)

    def route(person: int, context: ToolContext) -> Any:
        with scheduling_for(context.schedule):
            return scorer.scores(REQUESTS[person], choices)

    return [
        (f"poem drafts, {tokens} tokens (SmolLM2)", draft, Models()),
        ("routed requests (SmolLM2)", route, Models()),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--image", default=None, help="tiny, sd-turbo, or a pipeline directory")
    parser.add_argument("--music-seconds", type=float, default=None, help="(CPU 2, CUDA 8)")
    parser.add_argument("--no-music", action="store_true")
    parser.add_argument("--no-text", action="store_true")
    parser.add_argument("--text-tokens", type=int, default=32)
    parser.add_argument(
        "--models-dir", type=Path, default=Path("data/models"), help="where SmolLM2 is converted"
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's)")
    options = parser.parse_args()
    if options.threads:
        torch.set_num_threads(options.threads)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    on_gpu = device.type == "cuda"
    name = torch.cuda.get_device_name(device) if on_gpu else f"CPU x{os.cpu_count()}"
    print(f"device {name} · torch {torch.__version__} · threads {torch.get_num_threads()}")
    image = options.image or ("sd-turbo" if on_gpu else "tiny")
    with tempfile.TemporaryDirectory() as temp:
        cache = Path(temp)
        spec = "tiny:image" if image == "tiny" else image
        if image == "sd-turbo":
            from bench.image import sd_turbo_random

            dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
            sd_turbo_random(device, dtype).save_pretrained(cache / "sd-turbo-random")
            spec = str(cache / "sd-turbo-random")
        sides = [image_side(spec, cache, device)]
        if not options.no_music:
            seconds = options.music_seconds or (8.0 if on_gpu else 2.0)
            sides.append(music_side(on_gpu, cache, device, seconds))
        if not options.no_text:
            sides.extend(text_sides(options.models_dir, options.text_tokens))
        print(f"\n{PEOPLE} people at once, median of {options.runs} runs")
        print(
            f"{'':<34} {'1 by 1 s':>10} {'batched s':>10} {'ratio':>8} "
            f"{'1by1 /s':>10} {'batch /s':>10}"
        )
        for label, ask, models in sides:
            compare(label, ask, models, options.runs)


if __name__ == "__main__":
    main()
