"""A person's style: LoRA training speed and memory, and the IP-Adapter's cost per picture.

Run:

    .venv/bin/python bench/style.py               # CPU: tiny:image (about a minute)
    python3 bench/style.py                        # CUDA: tiny:image and sd-turbo's architecture

Models:
  tiny      tools/image/tiny.py's tiny:image (32x32)
  sd-turbo  (CUDA only) random weights of stabilityai/sd-turbo's architecture at 512x512,
            from the component configs in bench/image.py (nothing is downloaded)

Tables:
  1. LoRA training (tools/style/train.py, the style tool's own loop: rank 8 on
     to_q/to_k/to_v/to_out.0, 4 pictures a step): seconds per step, the median of the timed
     steps after a warm-up step, and peak memory (CUDA: torch.cuda.max_memory_allocated over
     the run; CPU: the process's peak RSS so far, which includes loading the model).
  2. The IP-Adapter per picture (tiny:ip-adapter): the image tool's run for one picture
     with no adapter loaded, in the style of a reference picture, and once more with no
     reference while the adapter stays loaded; medians of several pictures, and the
     overhead of a styled picture against the plain one.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402
from PIL import Image  # noqa: E402

from tools.contract import ArtifactKind, FocusArtifact, ToolContext  # noqa: E402
from tools.image.ip_adapter import TINY_IP_ADAPTER  # noqa: E402
from tools.image.loaded import LoadedImagePipeline  # noqa: E402
from tools.image.pipeline import load_image_pipeline  # noqa: E402
from tools.image.tool import ImageArgs, make_image  # noqa: E402
from tools.style.train import TrainingPlan, train_style  # noqa: E402


def image_bench() -> Any:
    """bench/image.py, for its sd-turbo configs (one copy of them)."""
    spec = importlib.util.spec_from_file_location(
        "bench_image", Path(__file__).with_name("image.py")
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Holding:
    """A ModelSource holding one loaded image model."""

    def __init__(self, loaded: LoadedImagePipeline) -> None:
        self.loaded = loaded

    def get(self, role: str) -> Any:
        return self.loaded


def pictures(count: int) -> list[Image.Image]:
    made = []
    for index in range(count):
        image = Image.new("RGB", (640, 512), (50 * index, 200 - 40 * index, 90))
        for x in range(0, 640, 40):
            image.paste((240, 240, 30 * index), (x, 0, x + 12, 512))
        made.append(image)
    return made


def peak_memory_mib(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def training_row(name: str, loaded: LoadedImagePipeline, steps: int) -> None:
    device = loaded.device
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
    stamps: list[float] = []
    plan = TrainingPlan(steps=steps + 1, max_seconds=3600.0, seed=0, instance_prompt="a style")
    started = time.perf_counter()
    trained = train_style(
        loaded,
        pictures(4),
        plan,
        on_step=lambda _done, _total, _mean: stamps.append(time.perf_counter()),
        check=lambda: None,
    )
    per_step = [later - earlier for earlier, later in zip(stamps, stamps[1:], strict=False)]
    losses = trained.losses
    print(
        f"  {name:<9} {loaded.defaults.native:>4}px  {statistics.median(per_step):8.4f} s/step"
        f"  (first step {stamps[0] - started:.2f} s, {steps} timed)"
        f"  peak {peak_memory_mib(device):8.0f} MiB"
        f"  loss {losses[0]:.3f} -> {losses[-1]:.3f}"
    )


def one_picture(models: Holding, settings: dict[str, Any], focus: FocusArtifact | None) -> float:
    mode = "styled" if focus is not None else None
    args = ImageArgs(prompt="a lighthouse", seed=3, mode=mode)
    device = models.loaded.device
    started = time.perf_counter()
    make_image(args, ToolContext(models, settings, focus=focus))
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - started


def ip_adapter_rows(name: str, loaded: LoadedImagePipeline, folder: Path, count: int) -> None:
    models = Holding(loaded)
    reference = folder / "reference.png"
    pictures(1)[0].save(reference)
    focus = FocusArtifact(1, ArtifactKind.IMAGE, "", None, reference, "image/png", {"upload": 1})
    adapter = {"ip_adapter": TINY_IP_ADAPTER}
    one_picture(models, {}, None)  # warm-up
    plain = statistics.median(one_picture(models, {}, None) for _ in range(count))
    one_picture(models, adapter, focus)  # loads the adapter, then warms it up
    styled = statistics.median(one_picture(models, adapter, focus) for _ in range(count))
    after = statistics.median(one_picture(models, adapter, None) for _ in range(count))
    print(
        f"  {name:<9} plain {plain:.4f} s  styled {styled:.4f} s  "
        f"(+{styled - plain:.4f} s, x{styled / plain:.2f})  "
        f"plain with the adapter loaded {after:.4f} s  (median of {count})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, help="timed training steps (20; CPU 10)")
    parser.add_argument("--pictures", type=int, default=8, help="pictures per IP-Adapter row")
    parser.add_argument("--threads", type=int, help="torch.set_num_threads (default: torch's)")
    options = parser.parse_args()
    if options.threads:
        torch.set_num_threads(options.threads)
    on_gpu = torch.cuda.is_available()
    device = torch.device("cuda" if on_gpu else "cpu")
    steps = options.steps or (20 if on_gpu else 10)
    where = torch.cuda.get_device_name(device) if on_gpu else f"CPU x{os.cpu_count()}"
    print(f"device {where} · torch {torch.__version__} · threads {torch.get_num_threads()}")
    with tempfile.TemporaryDirectory() as temp:
        cache = Path(temp)
        models = {"tiny": load_image_pipeline("tiny:image", cache_dir=cache, device=device.type)}
        if on_gpu:
            models["sd-turbo"] = sd_turbo(cache / "sd-turbo", device)
        print("\n1. LoRA training, rank 8, 4 pictures a step")
        for name, loaded in models.items():
            training_row(name, loaded, steps)
        print("\n2. IP-Adapter (tiny:ip-adapter) per picture, through the image tool")
        for name, loaded in models.items():
            folder = cache / f"ip-{name}"
            folder.mkdir()
            try:
                ip_adapter_rows(name, loaded, folder, options.pictures)
            except Exception as failed:  # noqa: BLE001 - a bench row says why it is missing
                print(f"  {name:<9} skipped: {type(failed).__name__}: {failed}")


def sd_turbo(folder: Path, device: torch.device) -> LoadedImagePipeline:
    """sd-turbo's architecture with random weights, saved and loaded as atelier loads it."""
    dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    built = image_bench().sd_turbo_random(device, dtype)
    built.save_pretrained(folder)
    del built
    # Its own cache: tiny:ip-adapter is built there shaped for this UNet, not the tiny one.
    extras = folder.with_name("sd-turbo-extras")
    return load_image_pipeline(str(folder), cache_dir=extras, device=device.type)


if __name__ == "__main__":
    main()
