"""Loading the image model: a diffusers pipeline from a spec, serving text-to-image and
image-to-image from one set of weights (tools/image/loaded.py).

A spec is one of:
  tiny:image   small seeded random weights of Stable Diffusion's real classes, built once
               under the cache dir (tools/image/tiny.py): for tests and offline plumbing
  a directory  a saved diffusers pipeline (it has a model_index.json): SD 1.x/2.x, SDXL, Turbo
  org/name     a Hugging Face hub id (the local hub cache when offline)

Memory: float16/bfloat16 on CUDA, float32 on CPU (bfloat16 convolutions on a CPU are slow and
drift from float32). Per run, VAE slicing and tiling are switched on when the estimated decode
memory would not fit in the room left (tools/image/memory.py); CPU offload is an option for
small GPUs.

With the image tool's settings (`settings`: what Settings.tool_settings["image"] holds) the
loader also loads the tiny decoder they name (`decoder`, tools/image/decoders.py) and, on CUDA,
switches the fast path on (tools/image/fast.py) and warms it (tools/image/warmup.py); it logs
how long all of it took in one line. CPU offload (`cpu_offload`) keeps the plain pipeline:
moving compiled modules on and off the GPU would undo what compiling gained.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from diffusers import AutoPipelineForText2Image, DiffusionPipeline

from tools.image.decoders import TinyDecoder, load_tiny_decoder
from tools.image.fast import FastOptions, speed_up, uncompile
from tools.image.loaded import ImageDefaults, LoadedImagePipeline, img2img_of, is_module
from tools.image.tiny import ensure_tiny_image
from tools.image.warmup import WarmShape, describe_plan, warm_plan, warm_up
from tools.models.devices import device_for, resolve_dtype_float32_on_cpu
from tools.models.sources import Source, local_or_hub
from tools.models.specs import IMAGE_ROLE, TINY_IMAGE, ModelRole

logger = logging.getLogger(__name__)

_FORMS = "tiny:image, a diffusers pipeline directory, or a hub id like stabilityai/sd-turbo"


def load_image_pipeline(
    spec: str,
    *,
    cache_dir: Path,
    device: str = "auto",
    dtype: str = "auto",
    role: ModelRole = IMAGE_ROLE,
    settings: Mapping[str, Any] | None = None,
) -> LoadedImagePipeline:
    """Load a diffusers pipeline from a spec (see the module docstring), with the tiny
    decoder and the fast path its settings ask for. Raises ModelUnavailable with a one-line
    reason when the spec (or the decoder's) cannot be had."""
    started = time.perf_counter()
    settings = settings or {}
    torch_device = device_for(spec, device, role)
    torch_dtype = resolve_dtype_float32_on_cpu(dtype, torch_device)
    source = _resolve_source(spec, cache_dir, role)
    logger.info("loading %s model %s on %s as %s", role.name, spec, torch_device, torch_dtype)
    try:
        text2img = AutoPipelineForText2Image.from_pretrained(
            source.path, dtype=torch_dtype, **_without_checker(source.path)
        )
    except (OSError, ValueError, KeyError) as exc:
        # OSError: files missing or the hub unreachable; ValueError/KeyError: not a pipeline
        # that AutoPipeline knows. Both are a bad spec, not a bug.
        raise role.unavailable(spec, source.describe_failure(exc)) from exc
    text2img.to(torch_device)
    text2img.set_progress_bar_config(disable=True)
    decoder = _tiny_decoder(settings, cache_dir, text2img)
    speedups: tuple[str, ...] = ()
    if not settings.get("cpu_offload", False):
        speedups = speed_up(text2img, decoder, torch_device, FastOptions.from_settings(settings))
    loaded = LoadedImagePipeline(
        spec=spec,
        text2img=text2img,
        img2img=img2img_of(text2img),
        device=torch_device,
        dtype=torch_dtype,
        defaults=model_defaults(spec, text2img),
        decoder=decoder,
        speedups=speedups,
        cache_dir=cache_dir,
    )
    plan = warmed(loaded, warm_plan_for(loaded, settings))
    loaded.ready_seconds = time.perf_counter() - started
    logger.info("%s", ready_line(loaded, plan))
    return loaded


def ready_line(loaded: LoadedImagePipeline, plan: Sequence[WarmShape]) -> str:
    """`image model X ready on cuda:0 in 71.3 s: bfloat16, SDPA, ...; warmed batches 1, 2, 4
    at 512x512 (full VAE, tiny decoder)`: what an operator waited for at start-up."""
    fast = ", ".join(loaded.speedups) or f"no fast path on {loaded.device.type}"
    decoder = "" if loaded.decoder is None else f", tiny decoder {loaded.decoder.spec}"
    warmed = f"; warmed {describe_plan(plan)}" if plan else ""
    return (
        f"image model {loaded.spec} ready on {loaded.device} in {loaded.ready_seconds:.1f} s: "
        f"{fast}{decoder}{warmed}"
    )


def warmed(loaded: LoadedImagePipeline, plan: Sequence[WarmShape]) -> Sequence[WarmShape]:
    """Warm the plan up; the plan warmed. Compiling is a speed-up, not a need: when it fails
    (a compiler missing or refusing a graph) the model runs uncompiled, said in one line."""
    try:
        warm_up(loaded, plan)
    except Exception as failed:  # noqa: BLE001 - any compiler failure; the model still works
        reason = " ".join(str(failed).split())[:300] or type(failed).__name__
        logger.warning(
            "compiling the image model failed (%s); it runs uncompiled "
            "(ATELIER_IMAGE_COMPILE=false skips the attempt)",
            reason,
        )
        uncompile(loaded.text2img, loaded.decoder)
        loaded.speedups = tuple(name for name in loaded.speedups if name != "compiled")
        return ()
    return plan


def warm_plan_for(
    loaded: LoadedImagePipeline, settings: Mapping[str, Any]
) -> tuple[WarmShape, ...]:
    """The shapes the load warms: none unless the fast path compiled the model."""
    if "compiled" not in loaded.speedups:
        return ()
    batches = FastOptions.from_settings(settings).compile_batches
    return warm_plan(batches, loaded.defaults.native, tiny_decoder=loaded.decoder is not None)


def _tiny_decoder(
    settings: Mapping[str, Any], cache_dir: Path, pipe: DiffusionPipeline
) -> TinyDecoder | None:
    spec = settings.get("decoder")
    if not spec:
        return None
    return load_tiny_decoder(
        str(spec), cache_dir=cache_dir, device=pipe.device, dtype=pipe.dtype, vae=pipe.vae
    )


def model_defaults(spec: str, pipe: DiffusionPipeline) -> ImageDefaults:
    native = int(pipe.unet.config.sample_size) * int(pipe.vae_scale_factor)
    if spec == TINY_IMAGE:
        # Few steps keep tests fast; guidance above 1 still runs the negative-prompt path.
        return ImageDefaults(steps=4, guidance=5.0, native=native, turbo=False)
    if "turbo" in spec.lower():
        return ImageDefaults(steps=1, guidance=0.0, native=native, turbo=True)
    xl = "XL" in type(pipe).__name__
    return ImageDefaults(
        steps=30 if xl else 25, guidance=6.0 if xl else 7.5, native=native, turbo=False
    )


def _without_checker(source: str) -> dict[str, Any]:
    """SD 1.x repos ship a safety checker (1.2 GB) that the pipeline would load and run on
    every image; the policy (tools/image/safety.py) decides whether one runs, so never load
    it here. Only pipelines with that component accept the arguments."""
    index = Path(source) / "model_index.json"
    if index.is_file() and "safety_checker" not in index.read_text():
        return {}
    return {"safety_checker": None, "feature_extractor": None, "requires_safety_checker": False}


def _resolve_source(spec: str, cache_dir: Path, role: ModelRole) -> Source:
    if spec == TINY_IMAGE:
        return Source(str(ensure_tiny_image(cache_dir)))
    if spec.startswith(("tiny:", "bundled:")):
        raise role.unavailable(spec, f"no such built-in image model; accepted forms are {_FORMS}")
    return local_or_hub(
        spec,
        role,
        not_a_spec=f"not an image model spec; accepted forms are {_FORMS}",
        marker="model_index.json",
        hint=" (not a diffusers pipeline)",
    )


def unique_modules(pipes: Sequence[DiffusionPipeline]) -> set[int]:
    """ids of the torch modules the pipelines hold: equal sets mean shared weights."""
    return {id(m) for pipe in pipes for m in pipe.components.values() if is_module(m)}
