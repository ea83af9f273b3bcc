"""Image generation speed and memory: atelier's image tool beside a plain diffusers call.

Run:

    .venv/bin/python bench/image.py                # CPU: the tiny random pipeline (~30 s)
    python3 bench/image.py --model sd-turbo        # CUDA: sd-turbo's real architecture
    python3 bench/image.py --model /path/to/a/diffusers/pipeline

Models:
  tiny      tools/image/pipeline.py's tiny:image (32x32), built from its config
  sd-turbo  random weights of stabilityai/sd-turbo's architecture (the SD 2.1-base UNet, its
            VAE and the OpenCLIP-H text encoder, from the configs written below; nothing is
            downloaded) at 512x512. Its tokenizer is a byte-level CLIP tokenizer: the real
            vocabulary is a download, and only token ids, not speed, depend on it.
  a path    a saved diffusers pipeline

Tables:
  1. plain diffusers, steps x batch: seconds per image, images/s, peak memory (CUDA: peak
     allocated per row; CPU: the process's peak RSS so far).
  2. atelier vs plain at concurrency 1, 4 and 8: N threads each asking for images (each
     thread warmed up first). atelier is the tool's run function (tools/image/tool.py: args, seed,
     memory plan, model lock, the pipeline, the PNG with its parameters); plain is
     `pipe(prompt, ...)` on the same pipeline object, under a lock as well, since one diffusers
     pipeline cannot serve two calls at once (the scheduler keeps per-call state); plain+PNG
     also writes the same PNG file atelier keeps. Ratios are atelier / plain and atelier /
     plain+PNG latency (median at concurrency 1, mean above); the target is <= 1.05 at 1.
  3. (CUDA) one image through the tool with cpu_offload on: seconds and peak GPU memory.

Only torch, diffusers, transformers and pillow are needed for table 1; table 2 also needs
atelier's own dependencies (pydantic) and is skipped, saying why, without them.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402
from diffusers import (  # noqa: E402
    AutoencoderKL,
    StableDiffusionPipeline,
    UNet2DConditionModel,
)
from transformers import CLIPTextConfig, CLIPTextModel  # noqa: E402

PROMPT = "a lighthouse in fog, oil painting"

# stabilityai/sd-turbo's component configs (as in its unet/, vae/ and text_encoder/ folders).
SD_TURBO_UNET: dict[str, Any] = {
    "sample_size": 64,
    "in_channels": 4,
    "out_channels": 4,
    "layers_per_block": 2,
    "block_out_channels": (320, 640, 1280, 1280),
    "down_block_types": (
        "CrossAttnDownBlock2D",
        "CrossAttnDownBlock2D",
        "CrossAttnDownBlock2D",
        "DownBlock2D",
    ),
    "up_block_types": (
        "UpBlock2D",
        "CrossAttnUpBlock2D",
        "CrossAttnUpBlock2D",
        "CrossAttnUpBlock2D",
    ),
    "attention_head_dim": (5, 10, 20, 20),
    "cross_attention_dim": 1024,
    "use_linear_projection": True,
    "norm_num_groups": 32,
    "flip_sin_to_cos": True,
    "freq_shift": 0,
    "act_fn": "silu",
}
SD_TURBO_VAE: dict[str, Any] = {
    "in_channels": 3,
    "out_channels": 3,
    "down_block_types": ("DownEncoderBlock2D",) * 4,
    "up_block_types": ("UpDecoderBlock2D",) * 4,
    "block_out_channels": (128, 256, 512, 512),
    "layers_per_block": 2,
    "latent_channels": 4,
    "norm_num_groups": 32,
    "sample_size": 512,
    "scaling_factor": 0.18215,
}
SD_TURBO_TEXT = {
    "vocab_size": 49408,
    "hidden_size": 1024,
    "intermediate_size": 4096,
    "num_hidden_layers": 23,
    "num_attention_heads": 16,
    "max_position_embeddings": 77,
    "hidden_act": "gelu",
    "projection_dim": 512,
}


def sd_turbo_random(device: torch.device, dtype: torch.dtype) -> StableDiffusionPipeline:
    from tools.image.tiny import sd_turbo_pipeline
    from tools.models.vision import byte_level_clip_tokenizer

    tokenizer = byte_level_clip_tokenizer()
    with torch.device(device):  # initialise on the GPU: seconds instead of a minute on the CPU
        unet = UNet2DConditionModel(**SD_TURBO_UNET)
        vae = AutoencoderKL(**SD_TURBO_VAE)
        text_encoder = CLIPTextModel(
            CLIPTextConfig(**SD_TURBO_TEXT, bos_token_id=0, eos_token_id=1, pad_token_id=1)
        )
    pipe = sd_turbo_pipeline(unet=unet, vae=vae, text_encoder=text_encoder, tokenizer=tokenizer)
    return pipe.to(device, dtype)


def peak_memory_mib(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def plain_call(pipe: Any, steps: int, batch: int, size: int, guidance: float) -> list[Any]:
    generators = [torch.Generator("cpu").manual_seed(i) for i in range(batch)]
    return pipe(
        PROMPT,
        num_inference_steps=steps,
        guidance_scale=guidance,
        num_images_per_prompt=batch,
        generator=generators,
        width=size,
        height=size,
    ).images


def table_steps_batch(
    pipe: Any, device: torch.device, size: int, guidance: float, repeat: int
) -> None:
    print(f"\n1. plain diffusers at {size}x{size}, guidance {guidance:g}")
    print(f"{'steps':>5} {'batch':>5} {'s/image':>9} {'images/s':>9} {'peak MiB':>9}")
    for steps in (1, 4):
        for batch in (1, 4):
            plain_call(pipe, steps, batch, size, guidance)  # warm-up
            if device.type == "cuda":
                torch.cuda.reset_peak_memory_stats(device)
            times = []
            for _ in range(repeat):
                sync(device)
                started = time.perf_counter()
                plain_call(pipe, steps, batch, size, guidance)
                sync(device)
                times.append(time.perf_counter() - started)
            per_call = statistics.median(times)
            print(
                f"{steps:>5} {batch:>5} {per_call / batch:>9.4f} {batch / per_call:>9.2f} "
                f"{peak_memory_mib(device):>9.0f}"
            )


def concurrent(
    call: Callable[[int], None], concurrency: int, per_thread: int
) -> tuple[float, float]:
    """Mean latency of one request and images/s, with `concurrency` threads asking at once.

    Each thread makes one untimed call first: a thread's first CUDA work sets up its own
    cuBLAS/cuDNN state, which atelier's long-lived tool threads (agent/jobs.py) pay once.
    """
    latencies: list[float] = []
    record = threading.Lock()
    ready = threading.Barrier(concurrency + 1)
    go = threading.Event()

    def worker(index: int) -> None:
        call(index * 1000 + 999)  # warm-up
        ready.wait()
        go.wait()
        for n in range(per_thread):
            started = time.perf_counter()
            call(index * 1000 + n)
            with record:
                latencies.append(time.perf_counter() - started)

    with ThreadPoolExecutor(concurrency) as pool:
        futures = [pool.submit(worker, index) for index in range(concurrency)]
        ready.wait()
        started = time.perf_counter()
        go.set()
        for future in futures:
            future.result()
        total = time.perf_counter() - started
    return statistics.mean(latencies), len(latencies) / total


def table_atelier(loaded: Any, size: int, requests: int) -> None:
    from tools.contract import ToolContext
    from tools.image.png_params import GenerationParameters, png_bytes
    from tools.image.tool import ImageArgs, make_image

    class Models:
        def get(self, role: str) -> Any:
            return loaded

    steps, guidance = loaded.defaults.steps, loaded.defaults.guidance
    pipe, plain_lock = loaded.text2img, threading.Lock()
    params = GenerationParameters(PROMPT, steps, "Euler", guidance, 0, size, size, loaded.spec)

    def atelier(seed: int) -> None:
        make_image(ImageArgs(prompt=PROMPT, seed=seed), ToolContext(Models()))

    def plain(seed: int) -> Any:
        with plain_lock:
            return pipe(
                PROMPT,
                num_inference_steps=steps,
                guidance_scale=guidance,
                generator=torch.Generator("cpu").manual_seed(seed),
                width=size,
                height=size,
            ).images[0]

    def plain_png(seed: int) -> None:
        png_bytes(plain(seed), params)  # the file atelier keeps, written outside the lock too

    sides = {"atelier": atelier, "plain": plain, "plain+PNG": plain_png}
    print(f"\n2. atelier vs plain at {size}x{size}, {steps} step(s), guidance {guidance:g}")
    print(
        f"{'conc.':>5} {'atelier s':>10} {'plain s':>10} {'ratio':>6} {'plain+PNG s':>12} "
        f"{'ratio':>6} {'atelier img/s':>14} {'plain img/s':>12}"
    )
    for call in sides.values():
        call(0)  # warm-up every path
    for concurrency in (1, 4, 8):
        if concurrency == 1:
            latency = one_at_a_time(sides, requests)
            rate = {name: 1 / seconds for name, seconds in latency.items()}
        else:
            latency, rate = {}, {}
            per_thread = max(1, requests // concurrency)
            # Each side twice, in mirrored order, so drift on the machine hits all alike.
            order = [*sides, *reversed(sides)]
            runs: dict[str, list[tuple[float, float]]] = {name: [] for name in sides}
            for name in order:
                runs[name].append(concurrent(sides[name], concurrency, per_thread))
            for name, results in runs.items():
                latency[name] = statistics.mean(r[0] for r in results)
                rate[name] = statistics.mean(r[1] for r in results)
        a, p, pp = latency["atelier"], latency["plain"], latency["plain+PNG"]
        print(
            f"{concurrency:>5} {a:>10.4f} {p:>10.4f} {a / p:>6.3f} {pp:>12.4f} {a / pp:>6.3f} "
            f"{rate['atelier']:>14.2f} {rate['plain']:>12.2f}"
        )


def one_at_a_time(sides: dict[str, Callable[[int], Any]], requests: int) -> dict[str, float]:
    """Median latency of each side, requests interleaved one by one in the calling thread."""
    times: dict[str, list[float]] = {name: [] for name in sides}
    for n in range(requests):
        names = list(sides) if n % 2 else list(reversed(sides))
        for name in names:
            started = time.perf_counter()
            sides[name](n)
            times[name].append(time.perf_counter() - started)
    return {name: statistics.median(values) for name, values in times.items()}


def load_atelier(spec_or_dir: str, cache: Path, device: torch.device) -> Any:
    from tools.image.pipeline import load_image_pipeline

    return load_image_pipeline(spec_or_dir, cache_dir=cache, device=device.type)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=None, help="tiny, sd-turbo, or a pipeline directory")
    parser.add_argument("--repeat", type=int, help="timed calls per row of table 1 (5; CPU 3)")
    parser.add_argument("--requests", type=int, help="requests per concurrency level (16; CPU 8)")
    parser.add_argument("--threads", type=int, help="torch.set_num_threads (default: torch's)")
    parser.add_argument("--skip-plain-table", action="store_true", help="table 2 (and 3) only")
    options = parser.parse_args()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    on_gpu = device.type == "cuda"
    options.repeat = options.repeat or (5 if on_gpu else 3)
    options.requests = options.requests or (16 if on_gpu else 8)
    if options.threads:
        torch.set_num_threads(options.threads)
    model = options.model or ("sd-turbo" if device.type == "cuda" else "tiny")
    dtype = torch.float32
    if device.type == "cuda":
        dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU x{os.cpu_count()}"
    print(f"device {name} · torch {torch.__version__} · threads {torch.get_num_threads()}")
    with tempfile.TemporaryDirectory() as temp:
        cache = Path(temp)
        if model == "sd-turbo":
            started = time.perf_counter()
            built = sd_turbo_random(device, dtype)
            directory = cache / "sd-turbo-random"
            built.save_pretrained(directory)
            del built
            print(
                f"built and saved sd-turbo's architecture in {time.perf_counter() - started:.1f} s"
            )
            spec = str(directory)
        else:
            spec = "tiny:image" if model == "tiny" else model
        # The loader needs only torch, diffusers and transformers; the tool needs pydantic too.
        loaded = load_atelier(spec, cache, device)
        pipe = loaded.text2img
        print(f"model {model} · {str(pipe.dtype).removeprefix('torch.')} · {type(pipe).__name__}")
        size = loaded.defaults.native
        if not options.skip_plain_table:
            table_steps_batch(pipe, device, size, loaded.defaults.guidance, options.repeat)
        try:
            import tools.image.tool  # noqa: F401
        except ImportError as missing:
            print(f"\n2. skipped: atelier's image tool cannot be imported here ({missing})")
            return
        table_atelier(loaded, size, options.requests)
        if device.type == "cuda":
            offload_row(loaded, size)


def offload_row(loaded: Any, size: int) -> None:
    """One image with cpu_offload on (last: it moves the weights to RAM for good)."""
    from tools.contract import ToolContext
    from tools.image.tool import ImageArgs, make_image

    class Models:
        def get(self, role: str) -> Any:
            return loaded

    context = ToolContext(Models(), {"cpu_offload": True})
    make_image(ImageArgs(prompt=PROMPT, seed=1), context)  # warm-up, installs the hooks
    torch.cuda.reset_peak_memory_stats(loaded.device)
    started = time.perf_counter()
    make_image(ImageArgs(prompt=PROMPT, seed=2), context)
    elapsed = time.perf_counter() - started
    print(
        f"\n3. atelier with cpu_offload: {elapsed:.3f} s per {size}x{size} image, "
        f"peak {peak_memory_mib(loaded.device):.0f} MiB on the GPU"
    )


if __name__ == "__main__":
    main()
