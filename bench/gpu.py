"""`make bench-gpu`: every GPU figure of issue 17's Show, unattended, with nothing downloaded.

    .venv/bin/python bench/gpu.py              # on a CUDA machine (aimed at < 5 min on an H100)
    .venv/bin/python bench/gpu.py --cpu-smoke  # every section at toy sizes on the CPU
    .venv/bin/python bench/gpu.py --sections image,people

Without CUDA (and without --cpu-smoke) it prints one line saying so and exits 0.

Every model has random weights of the real architecture, from configs written out (bench/music.py
and bench/image.py build MusicGen-small and SD-Turbo; TAESD and Qwen2.5-1.5B are below): the
work per step is the same as with trained weights. Each figure is one line, `label: value`,
ending with the device's name; the issue's target follows where it has one.

  music    MusicGen-small, guidance 3: the fast decode loop (tools/music/decode/) at batch 1
           (real-time factor) and the total at batch 4 and 8 (seconds of audio per second),
           generate() beside each on shorter clips (it is slow); median of runs after a
           warm-up at the same shapes (which captures the CUDA graphs)
  image    SD-Turbo at 512x512, 1 step, loaded by atelier's loader with the fast path (bf16,
           SDPA, fused QKV, channels_last, torch.compile warmed for batches 1 and 8: the
           start-up line is printed) and a TAESD-architecture tiny decoder: images/s of
           tools/image/rendering.py's render at batch 8, with the tiny decoder and with the
           full VAE (PIL pictures out, PNG encoding not counted)
  people   eight people's pictures (eight prompts and seeds) through the image tool at once
           vs the same eight one by one: through the scheduler (tools/scheduling/) when this
           checkout has it, else one pipeline call with the eight prompts (the line says which)
  atelier  the image tool's run (args, recipe, the render, the PNG with its parameters) vs a
           plain diffusers call on the same optimised pipeline, one request at a time,
           interleaved; also vs plain + the same PNG encoded in the thread
  chat     Qwen2.5-1.5B, batch 1, greedy: transformers generate() with a static cache (which
           compiles the forward on CUDA), new tokens per second after two warm-ups
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import torch  # noqa: E402

SECTIONS = ("music", "image", "people", "atelier", "chat")
PEOPLE = (
    "a lighthouse in fog, oil painting",
    "a red fox in snow, watercolour",
    "a city at night in the rain, neon",
    "a bowl of lemons, still life",
    "a ship in a storm, ink drawing",
    "mountains at dawn, pastel",
    "a cat asleep on a piano, pencil",
    "a garden of paper lanterns",
)

# madebyollin/taesd's config.json: TAESD for SD 1.x/2.x and sd-turbo (8x, 4 latent channels).
TAESD: dict[str, Any] = {
    "in_channels": 3,
    "out_channels": 3,
    "encoder_block_out_channels": (64, 64, 64, 64),
    "decoder_block_out_channels": (64, 64, 64, 64),
    "num_encoder_blocks": (1, 3, 3, 3),
    "num_decoder_blocks": (3, 3, 3, 1),
    "latent_channels": 4,
    "upsampling_scaling_factor": 2,
    "latent_magnitude": 3,
    "latent_shift": 0.5,
    "scaling_factor": 1.0,
}
# Qwen/Qwen2.5-1.5B-Instruct's config.json (the gpu profile's chat model).
QWEN25_15B: dict[str, Any] = {
    "vocab_size": 151936,
    "hidden_size": 1536,
    "intermediate_size": 8960,
    "num_hidden_layers": 28,
    "num_attention_heads": 12,
    "num_key_value_heads": 2,
    "max_position_embeddings": 32768,
    "rms_norm_eps": 1e-6,
    "rope_parameters": {"rope_type": "default", "rope_theta": 1000000.0},
    "tie_word_embeddings": True,
    "bos_token_id": 151643,
    "eos_token_id": 151645,
}
TOY_QWEN: dict[str, Any] = {
    **QWEN25_15B,
    "vocab_size": 512,
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "bos_token_id": 1,
    "eos_token_id": 2,
}


@dataclass(frozen=True)
class Sizes:
    """How big each section runs: the real thing on CUDA, toy sizes in --cpu-smoke."""

    music_clip_s: float
    generate_clip_s: float
    music_runs: int
    image_batch: int
    image_repeats: int
    atelier_requests: int
    people_repeats: int
    chat_prompt: int
    chat_new_tokens: int
    chat_runs: int


GPU = Sizes(8.0, 2.0, 3, 8, 10, 16, 3, 32, 256, 3)
SMOKE = Sizes(0.5, 0.5, 1, 8, 1, 2, 1, 8, 8, 1)


@dataclass(frozen=True)
class Bench:
    device: torch.device
    device_name: str
    sizes: Sizes
    cache: Path
    smoke: bool

    def figure(self, label: str, value: str) -> None:
        print(f"{label}: {value}  [{self.device_name}]", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cpu-smoke", action="store_true", help="toy sizes on the CPU")
    parser.add_argument("--sections", default=",".join(SECTIONS), help="which to run")
    options = parser.parse_args()
    sections = [name.strip() for name in options.sections.split(",") if name.strip()]
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        parser.error(f"no such sections: {', '.join(sorted(unknown))}; choose from {SECTIONS}")
    if not options.cpu_smoke and not torch.cuda.is_available():
        print("bench-gpu: no CUDA device here; nothing measured (--cpu-smoke runs toy sizes)")
        return
    device = torch.device("cpu" if options.cpu_smoke else "cuda")
    name = f"CPU x{os.cpu_count()}, toy sizes" if options.cpu_smoke else gpu_name()
    print(f"bench-gpu on {name} · torch {torch.__version__} · sections {', '.join(sections)}")
    with tempfile.TemporaryDirectory(prefix="bench-gpu-") as temp:
        bench = Bench(
            device, name, SMOKE if options.cpu_smoke else GPU, Path(temp), options.cpu_smoke
        )
        run_sections(bench, sections)


def gpu_name() -> str:
    return torch.cuda.get_device_name(torch.device("cuda"))


def run_sections(bench: Bench, sections: list[str]) -> None:
    started = time.perf_counter()
    image = None
    for name in sections:
        began = time.perf_counter()
        if name == "music":
            music_section(bench)
        elif name == "chat":
            chat_section(bench)
        else:
            image = image or load_image(bench)
            {"image": image_section, "people": people_section, "atelier": atelier_section}[name](
                bench, image
            )
        print(f"  ({name}: {time.perf_counter() - began:.1f} s)", flush=True)
    print(f"bench-gpu done in {time.perf_counter() - started:.1f} s")


# --- music ----------------------------------------------------------------------------------


def music_section(bench: Bench) -> None:
    from bench.music import measure, random_musicgen_small
    from tools.music.model import load_music_model

    if bench.smoke:
        loaded = load_music_model("tiny:music", cache_dir=bench.cache, device="cpu")
    else:
        loaded = random_musicgen_small(bench.device)
    sizes, model = bench.sizes, "MusicGen-small" if not bench.smoke else "tiny:music"
    for batch in (1, 4, 8):
        fast = measure(loaded, batch, sizes.music_clip_s, 3.0, "fast", sizes.music_runs)
        slow = measure(loaded, batch, sizes.generate_clip_s, 3.0, "generate", 1)
        for row, clip in ((fast, sizes.music_clip_s), (slow, sizes.generate_clip_s)):
            loop = "fast loop" if row is fast else "generate()"
            target = " (target >= 10x)" if batch == 1 and row is fast else ""
            what = (
                f"{row.realtime_factor:.2f}x real time{target}"
                if batch == 1
                else f"{row.realtime_factor:.2f} s of audio per s in all"
            )
            bench.figure(
                f"music batch {batch}, {loop}",
                f"{what} ({model}, {row.steps_per_second:.0f} steps/s, {clip:g} s clips)",
            )
    del loaded
    _free(bench.device)


# --- images ---------------------------------------------------------------------------------


def load_image(bench: Bench) -> Any:
    """Atelier's loader on SD-Turbo's architecture (toy: tiny:image) with a tiny decoder, the
    fast path on and compiled for batch 1 and the throughput batch; prints its start-up line."""
    from tools.image.pipeline import load_image_pipeline, ready_line, warm_plan_for

    batches = sorted({1, bench.sizes.image_batch})
    if bench.smoke:
        spec, decoder = "tiny:image", "tiny:decoder"
    else:
        spec, decoder = save_random_sd_turbo(bench), save_random_taesd(bench)
    settings = {"compile": True, "compile_batches": ",".join(map(str, batches)), "decoder": decoder}
    loaded = load_image_pipeline(
        spec, cache_dir=bench.cache, device=bench.device.type, settings=settings
    )
    bench.figure("image start-up", ready_line(loaded, warm_plan_for(loaded, settings)))
    return loaded


def save_random_sd_turbo(bench: Bench) -> str:
    from bench.image import sd_turbo_random
    from tools.models.devices import resolve_dtype

    directory = bench.cache / "sd-turbo-random"
    sd_turbo_random(bench.device, resolve_dtype("auto", bench.device)).save_pretrained(directory)
    _free(bench.device)
    return str(directory)


def save_random_taesd(bench: Bench) -> str:
    from diffusers import AutoencoderTiny

    directory = bench.cache / "taesd-random"
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        AutoencoderTiny(**TAESD).save_pretrained(directory)
    return str(directory)


def image_section(bench: Bench, loaded: Any) -> None:
    size = loaded.defaults.native
    for tiny, decoder in ((True, "tiny decoder"), (False, "full VAE")):
        rate = images_per_second(bench, loaded, tiny)
        target = " (target >= 110)" if tiny else ""
        bench.figure(
            f"images batch {bench.sizes.image_batch}, {decoder}",
            f"{rate:.1f} images/s{target} ({model_name(loaded)}, {size}x{size}, 1 step)",
        )


def model_name(loaded: Any) -> str:
    return loaded.spec if loaded.spec.startswith("tiny:") else "SD-Turbo's architecture"


def images_per_second(bench: Bench, loaded: Any, tiny: bool) -> float:
    from tools.image.rendering import Render, render

    native, batch = loaded.defaults.native, bench.sizes.image_batch
    job = Render(
        prompt=PEOPLE[0],
        negative_prompt="",
        width=native,
        height=native,
        steps=1,
        guidance=loaded.defaults.guidance,
        seeds=tuple(range(batch)),
        tiny_decoder=tiny,
    )
    with loaded.lock:
        render(loaded, job, _no_steps)  # warm-up (the load compiled this shape already)
        _sync(bench.device)
        started = time.perf_counter()
        for _ in range(bench.sizes.image_repeats):
            render(loaded, job, _no_steps)
        _sync(bench.device)
    return batch * bench.sizes.image_repeats / (time.perf_counter() - started)


def people_section(bench: Bench, loaded: Any) -> None:
    """Eight people's pictures at once vs the same eight one by one, same seeds."""
    batched, via = eight_at_once(loaded)
    one_by_one = eight_one_by_one(loaded)
    walls = {"batched": [], "alone": []}
    for _ in range(bench.sizes.people_repeats):
        for name, run in (("batched", batched), ("alone", one_by_one)):
            started = time.perf_counter()
            run()
            _sync(bench.device)
            walls[name].append(time.perf_counter() - started)
    together, alone = (statistics.median(walls[k]) for k in ("batched", "alone"))
    bench.figure(
        "eight people's images, batched vs one by one",
        f"{alone / together:.2f}x (target >= 3x; {together:.3f} s vs {alone:.3f} s; {via})",
    )


def eight_at_once(loaded: Any) -> tuple[Callable[[], None], str]:
    """Eight threads asking the image tool at once through the scheduler, when this checkout
    has one; else the eight prompts as one pipeline call."""
    try:
        from tools.contract import ToolContext
        from tools.scheduling.queue import Batching
        from tools.scheduling.scheduler import Scheduler

        ToolContext.__dataclass_fields__["lane"]  # noqa: B018 - the scheduler's hook
    except (ImportError, KeyError):
        return _eight_in_one_call(loaded), "one pipeline call with the eight prompts (no scheduler)"
    from tools.image.tool import ImageArgs, make_image

    scheduler = Scheduler(Batching(window_s=0.05, max_size=(("image", len(PEOPLE)),)))

    def everyone() -> None:
        go = threading.Barrier(len(PEOPLE))
        errors: list[BaseException] = []

        def person(index: int) -> None:
            context = ToolContext(
                _Only(loaded), {"decoder_use": "never"}, lane=scheduler.lane(index)
            )
            go.wait()
            try:
                make_image(ImageArgs(prompt=PEOPLE[index], seed=index), context)
            except BaseException as failed:  # noqa: BLE001 - re-raised below
                errors.append(failed)

        threads = [threading.Thread(target=person, args=(i,)) for i in range(len(PEOPLE))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if errors:
            raise errors[0]

    everyone()  # warm-up: the threads' first CUDA work, the batch of eight's graphs
    return everyone, "eight image-tool runs through the scheduler"


def _eight_in_one_call(loaded: Any) -> Callable[[], None]:
    def call() -> None:
        with loaded.lock, torch.inference_mode():
            loaded.text2img(
                prompt=list(PEOPLE),
                num_inference_steps=1,
                guidance_scale=loaded.defaults.guidance,
                generator=[torch.Generator("cpu").manual_seed(i) for i in range(len(PEOPLE))],
                width=loaded.defaults.native,
                height=loaded.defaults.native,
            )

    call()
    return call


def eight_one_by_one(loaded: Any) -> Callable[[], None]:
    from tools.contract import ToolContext
    from tools.image.tool import ImageArgs, make_image

    context = ToolContext(_Only(loaded), {"decoder_use": "never"})

    def each() -> None:
        for index, prompt in enumerate(PEOPLE):
            make_image(ImageArgs(prompt=prompt, seed=index), context)

    make_image(ImageArgs(prompt=PEOPLE[0], seed=0), context)  # warm-up
    return each


def atelier_section(bench: Bench, loaded: Any) -> None:
    from bench.image import one_at_a_time
    from tools.contract import ToolContext
    from tools.image.png_params import GenerationParameters, png_bytes
    from tools.image.tool import ImageArgs, make_image

    context = ToolContext(_Only(loaded), {"decoder_use": "never"})
    pipe, lock, size = loaded.text2img, threading.Lock(), loaded.defaults.native
    steps, guidance = loaded.defaults.steps, loaded.defaults.guidance
    chunk = GenerationParameters(PEOPLE[0], steps, "Euler", guidance, 0, size, size, loaded.spec)

    def atelier(seed: int) -> None:
        make_image(ImageArgs(prompt=PEOPLE[0], seed=seed), context)
        _sync(bench.device)

    def plain(seed: int) -> Any:
        with lock, torch.inference_mode():
            image = pipe(
                PEOPLE[0],
                num_inference_steps=steps,
                guidance_scale=guidance,
                generator=torch.Generator("cpu").manual_seed(seed),
                width=size,
                height=size,
            ).images[0]
        _sync(bench.device)
        return image

    def plain_png(seed: int) -> None:
        png_bytes(plain(seed), chunk)

    sides = {"atelier": atelier, "plain": plain, "plain+PNG": plain_png}
    for call in sides.values():
        call(0)  # warm-up every path
    latency = one_at_a_time(sides, bench.sizes.atelier_requests)
    a, p, pp = latency["atelier"], latency["plain"], latency["plain+PNG"]
    bench.figure(
        "atelier vs plain diffusers at concurrency 1",
        f"{a / p:.3f} (target <= 1.05; {a * 1000:.1f} ms vs {p * 1000:.1f} ms; "
        f"vs plain+PNG {a / pp:.3f})",
    )


class _Only:
    def __init__(self, loaded: Any) -> None:
        self.loaded = loaded

    def get(self, role: str) -> Any:
        return self.loaded


# --- chat -----------------------------------------------------------------------------------


def chat_section(bench: Bench) -> None:
    from tools.models.devices import resolve_dtype

    dtype = torch.float32 if bench.smoke else resolve_dtype("auto", bench.device)
    rate = chat_tokens_per_second(bench, TOY_QWEN if bench.smoke else QWEN25_15B, dtype)
    _free(bench.device)
    name = "Qwen2.5-1.5B's architecture" if not bench.smoke else "a toy Qwen2"
    bench.figure(
        "chat batch 1, static cache",
        f"{rate:.1f} tok/s (target >= 150; {name}, {bench.sizes.chat_new_tokens} new tokens, "
        f"{str(dtype).removeprefix('torch.')})",
    )


def chat_tokens_per_second(bench: Bench, architecture: dict[str, Any], dtype: torch.dtype) -> float:
    """Median new tokens per second of greedy generate() with a static cache, after two
    warm-ups (on CUDA the first compiles the forward, the second settles its graphs)."""
    from transformers import Qwen2Config, Qwen2ForCausalLM

    sizes = bench.sizes
    config = Qwen2Config(**architecture)
    with torch.device(bench.device):
        model = Qwen2ForCausalLM(config).to(dtype).eval()
    prompt = torch.randint(3, config.vocab_size, (1, sizes.chat_prompt), device=bench.device)

    def generate() -> int:
        with torch.inference_mode():
            out = model.generate(
                prompt,
                attention_mask=torch.ones_like(prompt),
                max_new_tokens=sizes.chat_new_tokens,
                min_new_tokens=sizes.chat_new_tokens,
                do_sample=False,
                cache_implementation="static",
                pad_token_id=config.eos_token_id,
            )
        _sync(bench.device)
        return int(out.shape[1] - prompt.shape[1])

    generate(), generate()
    rates = []
    for _ in range(sizes.chat_runs):
        started = time.perf_counter()
        made = generate()
        rates.append(made / (time.perf_counter() - started))
    return statistics.median(rates)


# --- helpers --------------------------------------------------------------------------------


def _no_steps(_done: int, _total: int) -> None:
    return None


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _free(device: torch.device) -> None:
    import gc

    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
