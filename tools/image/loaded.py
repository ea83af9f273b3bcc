"""A loaded image model: one set of diffusion weights as a text-to-image and an image-to-image
pipeline, with the memory savings of the run at hand switched on (tools/image/memory.py).

The image-to-image pipeline is made with AutoPipelineForImage2Image.from_pipe, which hands it
the very same modules: a variation or an upscale costs no second copy of the weights. Beside
them it may hold a tiny decoder (tools/image/decoders.py) and, on CUDA, the fast path that was
switched on at load (tools/image/fast.py).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path

import torch
from diffusers import AutoPipelineForImage2Image, DiffusionPipeline
from PIL import Image

from tools.image.decoders import TinyDecoder
from tools.image.ip_adapter import load_into
from tools.image.memory import MemoryOptions, MemoryPlan, plan_memory
from tools.image.png_params import sampler_name
from tools.image.safety import OutputChecker, load_output_checker
from tools.models.devices import module_bytes

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ImageDefaults:
    """What a model is run with unless the request says otherwise."""

    steps: int
    guidance: float
    native: int  # side of the square it was trained at, in pixels
    turbo: bool  # distilled for 1-4 steps without classifier-free guidance


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
    decoder: TinyDecoder | None = None  # the tiny decoder, when one is set
    speedups: tuple[str, ...] = ()  # the fast path switched on at load (none on a CPU)
    ready_seconds: float = 0.0  # load, fast path and warm-up together
    cache_dir: Path | None = None  # where built-in extras (tiny:ip-adapter) are built
    ip_adapter: str | None = None  # the IP-Adapter loaded, once a picture asked for one
    ip_embed_dim: int = 0  # the width of its image embeddings
    _checkers: dict[str, OutputChecker] = field(default_factory=dict, repr=False)

    def memory_bytes(self) -> int:
        modules = {id(m): m for m in self.text2img.components.values() if is_module(m)}
        if self.decoder is not None:
            modules[id(self.decoder.module)] = self.decoder.module
        return sum(module_bytes(module) for module in modules.values())

    @property
    def sampler(self) -> str:
        return sampler_name(type(self.text2img.scheduler).__name__)

    @property
    def vae_scale_factor(self) -> int:
        return int(self.text2img.vae_scale_factor)

    def tiny_pictures(self, latents: torch.Tensor) -> list[Image.Image]:
        """Pictures from the pipeline's latents, through the tiny decoder."""
        if self.decoder is None:
            raise LookupError("no tiny decoder is loaded (ATELIER_MODEL_IMAGE_DECODER)")
        with torch.inference_mode():
            images = self.decoder.decode(latents)
            return list(self.text2img.image_processor.postprocess(images, output_type="pil"))

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

    def load_ip_adapter(self, spec: str | None) -> None:
        """The IP-Adapter a spec names, loaded on first use and kept (tools/image/
        ip_adapter.py). The caller holds `lock`. Raises ModelUnavailable in one line."""
        if self.ip_adapter is not None and self.ip_adapter == spec:
            return
        if self.ip_adapter is not None:
            self.text2img.unload_ip_adapter()  # another spec: one adapter at a time
            self.ip_adapter = None
        cache_dir = self.cache_dir or Path(".")
        self.ip_embed_dim = load_into(self.text2img, spec, cache_dir)
        self.ip_adapter = spec

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
        self.img2img = img2img_of(self.text2img)
        self.offloaded = True


def img2img_of(text2img: DiffusionPipeline) -> DiffusionPipeline:
    """The image-to-image pipeline on the same modules as `text2img`."""
    img2img = AutoPipelineForImage2Image.from_pipe(text2img)
    img2img.set_progress_bar_config(disable=True)
    return img2img


def is_module(value: object) -> bool:
    return isinstance(value, torch.nn.Module)


def _upcasts_vae(pipe: DiffusionPipeline) -> bool:
    """SDXL's VAE overflows in float16, so its pipeline decodes in float32."""
    return bool(getattr(pipe.vae.config, "force_upcast", False)) and pipe.vae.dtype == torch.float16
