"""The image model: a diffusers pipeline loaded from a spec, serving text-to-image and
image-to-image from one set of weights.

A spec is one of:
  tiny:image   a Stable Diffusion pipeline of the real classes (UNet2DConditionModel,
               AutoencoderKL, CLIPTextModel, a byte-level CLIPTokenizer, an Euler scheduler) with
               small seeded random weights, built once under the cache dir and loaded back with
               from_pretrained like any real model: for tests and offline plumbing
  a directory  a saved diffusers pipeline (it has a model_index.json): SD 1.x/2.x, SDXL, Turbo
  org/name     a Hugging Face hub id (the local hub cache when offline)

The image-to-image pipeline is made with AutoPipelineForImage2Image.from_pipe, which hands it
the very same modules: a variation or an upscale costs no second copy of the weights.

Memory: float16/bfloat16 on CUDA, float32 on CPU (bfloat16 convolutions on a CPU are slow and
drift from float32). Per run, VAE slicing and tiling are switched on when the estimated decode
memory would not fit in the room left (MemoryOptions); CPU offload is an option for small GPUs.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
from diffusers import AutoPipelineForImage2Image, AutoPipelineForText2Image, DiffusionPipeline
from PIL import Image

from tools.image.png_params import sampler_name
from tools.image.safety import OutputChecker, load_output_checker
from tools.models.loading import (
    IMAGE_ROLE,
    TINY_IMAGE,
    ModelRole,
    Source,
    build_atomically,
    device_for,
    local_or_hub,
    module_bytes,
    resolve_dtype_float32_on_cpu,
)
from tools.models.vision import byte_level_clip_tokenizer

logger = logging.getLogger(__name__)

TINY_IMAGE_CACHE_NAME = "tiny-image"
TINY_IMAGE_SEED = 0
_FORMS = "tiny:image, a diffusers pipeline directory, or a hub id like stabilityai/sd-turbo"

# Decoding a latent to pixels holds about this many values per output pixel at its peak (the
# VAE decoder's last blocks run 128 channels at full resolution, several tensors alive at once).
# A rough figure, on the safe side; bench/image.py prints the measured peak beside it.
DECODE_VALUES_PER_PIXEL = 640
MIB = 1024 * 1024


@dataclass(frozen=True)
class ImageDefaults:
    """What a model is run with unless the request says otherwise."""

    steps: int
    guidance: float
    native: int  # side of the square it was trained at, in pixels
    turbo: bool  # distilled for 1-4 steps without classifier-free guidance


@dataclass(frozen=True)
class MemoryOptions:
    """How much working memory a run may take, from the tool's settings.

    Settings keys: `cpu_offload` (bool: keep weights in RAM and move each model to the GPU
    only while it runs), `attention_slicing` and `vae_tiling` ("auto", "on" or "off"), and
    `memory_headroom_mb` (working memory a run may use beyond the weights; 0: the GPU's free
    memory, and no limit on a CPU).
    """

    cpu_offload: bool = False
    attention_slicing: Literal["auto", "on", "off"] = "auto"
    vae_tiling: Literal["auto", "on", "off"] = "auto"
    headroom_bytes: int = 0

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> MemoryOptions:
        return cls(
            cpu_offload=bool(settings.get("cpu_offload", False)),
            attention_slicing=_switch(settings.get("attention_slicing", "auto")),
            vae_tiling=_switch(settings.get("vae_tiling", "auto")),
            headroom_bytes=int(float(settings.get("memory_headroom_mb", 0)) * MIB),
        )


def _switch(value: Any) -> Literal["auto", "on", "off"]:
    """A setting given as auto/on/off, or as a bool (TOML `true` means on)."""
    text = ("on" if value else "off") if isinstance(value, bool) else str(value).lower()
    if text not in ("auto", "on", "off"):
        raise ValueError(f"expected auto, on or off, not {value!r}")
    return text  # type: ignore[return-value]


@dataclass(frozen=True)
class MemoryPlan:
    attention_slicing: bool = False
    vae_slicing: bool = False
    vae_tiling: bool = False


def plan_memory(
    options: MemoryOptions,
    *,
    width: int,
    height: int,
    batch: int,
    value_bytes: int,
    room: int | None,
) -> MemoryPlan:
    """Which savings a run needs. `room` is the working memory available (None: unlimited).

    Attention slicing is only ever switched on when asked for: with PyTorch 2's fused
    attention (which diffusers uses by default) the attention matrix is never materialised,
    so slicing would only swap the fused kernel for a slower one without saving memory.
    """
    one = width * height * DECODE_VALUES_PER_PIXEL * value_bytes
    auto_tiling = room is not None and one > room
    return MemoryPlan(
        attention_slicing=options.attention_slicing == "on",
        vae_slicing=room is not None and batch > 1 and one * batch > room,
        vae_tiling=options.vae_tiling == "on" or (options.vae_tiling == "auto" and auto_tiling),
    )


@dataclass(eq=False)
class LoadedImagePipeline:
    """One set of diffusion weights, as a text-to-image and an image-to-image pipeline.
    Generation must hold `lock`: diffusers pipelines keep per-call state (the scheduler's
    timesteps) and must not be called from two threads at once."""

    spec: str
    text2img: DiffusionPipeline
    img2img: DiffusionPipeline
    device: torch.device
    dtype: torch.dtype
    defaults: ImageDefaults
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    offloaded: bool = False
    applied: MemoryPlan = MemoryPlan()
    _checkers: dict[str, OutputChecker] = field(default_factory=dict, repr=False)

    def memory_bytes(self) -> int:
        modules = {id(m): m for m in self.text2img.components.values() if _is_module(m)}
        return sum(module_bytes(module) for module in modules.values())

    @property
    def sampler(self) -> str:
        return sampler_name(type(self.text2img.scheduler).__name__)

    @property
    def vae_scale_factor(self) -> int:
        return int(self.text2img.vae_scale_factor)

    def room(self, options: MemoryOptions) -> int | None:
        """Working memory a run may use: the configured headroom, else what the GPU has free."""
        if options.headroom_bytes:
            return options.headroom_bytes
        if self.device.type == "cuda" and not self.offloaded:
            free, _total = torch.cuda.mem_get_info(self.device)
            return int(free)
        return None

    def prepare(self, options: MemoryOptions, *, width: int, height: int, batch: int) -> None:
        """Switch the memory savings this run needs on, and those it does not need off.
        The caller holds `lock`."""
        if options.cpu_offload and not self.offloaded:
            self._offload()
        value_bytes = 4 if _upcasts_vae(self.text2img) else torch.finfo(self.dtype).bits // 8
        plan = plan_memory(
            options,
            width=width,
            height=height,
            batch=batch,
            value_bytes=value_bytes,
            room=self.room(options),
        )
        if plan == self.applied:
            return
        vae = self.text2img.vae
        if plan.attention_slicing != self.applied.attention_slicing:
            if plan.attention_slicing:
                self.text2img.enable_attention_slicing()
            else:
                self.text2img.disable_attention_slicing()
        vae.enable_slicing() if plan.vae_slicing else vae.disable_slicing()
        vae.enable_tiling() if plan.vae_tiling else vae.disable_tiling()
        logger.info("image memory plan for %dx%d x%d: %s", width, height, batch, plan)
        self.applied = plan

    def output_checker(self, spec: str) -> OutputChecker:
        """diffusers' safety checker, loaded on first use and kept beside the pipeline."""
        if spec not in self._checkers:
            device = torch.device("cpu") if self.offloaded else self.device
            self._checkers[spec] = load_output_checker(spec, device, self.dtype)
        return self._checkers[spec]

    def _offload(self) -> None:
        if self.device.type == "cpu":
            logger.info("cpu_offload asked for, but the image model already runs on the CPU")
            self.offloaded = True
            return
        self.text2img.to("cpu")
        self.text2img.enable_model_cpu_offload(device=self.device)
        # from_pipe again: the new img2img shares the modules and so their offload hooks.
        self.img2img = _img2img(self.text2img)
        self.offloaded = True


# --- running ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Render:
    """One pipeline call: a batch of images, one seed each (seed i makes image i)."""

    prompt: str
    negative_prompt: str
    width: int
    height: int
    steps: int
    guidance: float
    seeds: tuple[int, ...]
    init_image: Image.Image | None = None  # image-to-image when set
    strength: float = 1.0


StepCallback = Callable[[int, int], None]  # (steps done, steps in all); may raise to stop


def render(loaded: LoadedImagePipeline, job: Render, on_step: StepCallback) -> list[Image.Image]:
    """Run the pipeline. The caller holds `loaded.lock`.

    Each image's starting noise comes from its own CPU generator, so a seed makes the same
    image whatever its place in a batch, and the same noise on a CPU and on a GPU. `on_step`
    runs after every denoising step; an exception it raises (Cancelled) stops the run there.
    """
    generators = [torch.Generator("cpu").manual_seed(seed) for seed in job.seeds]

    def after_step(pipe: Any, index: int, _timestep: Any, tensors: dict[str, Any]) -> dict:
        on_step(index + 1, int(pipe.num_timesteps))
        return tensors

    common: dict[str, Any] = {
        "prompt": job.prompt,
        "negative_prompt": job.negative_prompt or None,
        "num_inference_steps": job.steps,
        "guidance_scale": job.guidance,
        "generator": generators,
        "num_images_per_prompt": len(job.seeds),
        "callback_on_step_end": after_step,
        "output_type": "pil",
    }
    with torch.inference_mode():
        if job.init_image is None:
            result = loaded.text2img(**common, width=job.width, height=job.height)
        else:
            image = job.init_image.convert("RGB")
            if image.size != (job.width, job.height):
                image = image.resize((job.width, job.height), Image.Resampling.LANCZOS)
            result = loaded.img2img(**common, image=image, strength=job.strength)
    return list(result.images)


def img2img_steps(steps: int, strength: float) -> int:
    """Steps to ask an img2img pipeline for so that `steps` are run: it runs only the last
    `strength` share of its schedule (a Turbo model at 1 step and strength 0.5 needs 2)."""
    return max(steps, math.ceil(steps / strength - 1e-9))


# --- loading ---------------------------------------------------------------------------------


def load_image_pipeline(
    spec: str,
    *,
    cache_dir: Path,
    device: str = "auto",
    dtype: str = "auto",
    role: ModelRole = IMAGE_ROLE,
) -> LoadedImagePipeline:
    """Load a diffusers pipeline from a spec (see the module docstring). Raises
    ModelUnavailable with a one-line reason when the spec cannot be had."""
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
    return LoadedImagePipeline(
        spec=spec,
        text2img=text2img,
        img2img=_img2img(text2img),
        device=torch_device,
        dtype=torch_dtype,
        defaults=model_defaults(spec, text2img),
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


def _img2img(text2img: DiffusionPipeline) -> DiffusionPipeline:
    img2img = AutoPipelineForImage2Image.from_pipe(text2img)
    img2img.set_progress_bar_config(disable=True)
    return img2img


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


def _is_module(value: object) -> bool:
    return isinstance(value, torch.nn.Module)


def _upcasts_vae(pipe: DiffusionPipeline) -> bool:
    """SDXL's VAE overflows in float16, so its pipeline decodes in float32."""
    return bool(getattr(pipe.vae.config, "force_upcast", False)) and pipe.vae.dtype == torch.float16


# --- the tiny random pipeline ------------------------------------------------------------------


def ensure_tiny_image(cache_dir: Path) -> Path:
    """tiny:image saved once: seeded random weights, so every machine builds the same model."""
    target = cache_dir / TINY_IMAGE_CACHE_NAME
    if (target / "model_index.json").is_file():
        return target
    logger.info("building the tiny random-weight image pipeline once in %s", target)

    def build(into: Path) -> None:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(TINY_IMAGE_SEED)
            pipe = tiny_pipeline()
        pipe.save_pretrained(into)

    # build_atomically checks for config.json when another process wins the rename race; a
    # pipeline directory has model_index.json instead, so that race raises (see the report).
    build_atomically(target, build)
    return target


def tiny_pipeline() -> DiffusionPipeline:
    """Stable Diffusion's classes at toy size: 32x32 pixels natively (a 16x16 latent, VAE
    factor 2), a two-block UNet and a two-layer CLIP text encoder, about 1 MB of weights."""
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    tokenizer = byte_level_clip_tokenizer()
    unet = UNet2DConditionModel(
        sample_size=16,
        in_channels=4,
        out_channels=4,
        block_out_channels=(32, 64),
        layers_per_block=1,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=32,
        attention_head_dim=8,
        norm_num_groups=32,
    )
    vae = AutoencoderKL(
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
        up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"),
        block_out_channels=(32, 64),
        latent_channels=4,
        norm_num_groups=32,
        sample_size=32,
    )
    text_encoder = CLIPTextModel(
        CLIPTextConfig(
            vocab_size=len(tokenizer),
            hidden_size=32,
            intermediate_size=37,
            num_hidden_layers=2,
            num_attention_heads=4,
            max_position_embeddings=tokenizer.model_max_length,
            projection_dim=32,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
        )
    )
    return sd_turbo_pipeline(unet=unet, vae=vae, text_encoder=text_encoder, tokenizer=tokenizer)


def sd_turbo_pipeline(
    *, unet: torch.nn.Module, vae: torch.nn.Module, text_encoder: torch.nn.Module, tokenizer: Any
) -> DiffusionPipeline:
    """A Stable Diffusion pipeline from its parts, with sd-turbo's scheduler (Euler with
    trailing timesteps, so one step starts from pure noise) and no safety checker (the
    policy in tools/image/safety.py decides that). The tiny model and bench/image.py's
    random sd-turbo are both built this way."""
    from diffusers import EulerDiscreteScheduler, StableDiffusionPipeline

    scheduler = EulerDiscreteScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        timestep_spacing="trailing",
        steps_offset=1,
    )
    return StableDiffusionPipeline(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        unet=unet,
        scheduler=scheduler,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )


def unique_modules(pipes: Sequence[DiffusionPipeline]) -> set[int]:
    """ids of the torch modules the pipelines hold: equal sets mean shared weights."""
    return {id(m) for pipe in pipes for m in pipe.components.values() if _is_module(m)}
