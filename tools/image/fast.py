"""The image fast path on CUDA, switched on once when the image model loads
(tools/image/pipeline.py). On a CPU nothing changes: compiling takes minutes there for little
gain, and the CPU's results stay those of the plain pipeline.

  bf16           the loader's dtype on CUDA already (tools/models/devices.py)
  SDPA           every attention through torch's scaled_dot_product_attention (flash and
                 memory-efficient kernels), with
  fused QKV      one projection matmul for a self-attention's q, k and v (k and v for
                 cross-attention), in the UNet and in the VAE
  channels_last  the UNet's and the decoders' convolutions in NHWC, the layout cuDNN's
                 fastest kernels (and inductor's) work in
  compiled       torch.compile of the UNet, the VAE's decoder and the tiny decoder, one graph
                 per batch size (dynamic=False: a specialised graph is the fastest), each
                 batch size of the warm-up plan compiled at load (tools/image/warmup.py) so no
                 person waits for it; other sizes compile the first time they are asked for

Settings keys (the image tool's settings): `compile` (bool; off, the rest still applies) and
`compile_batches` ("1,2,4": the batch sizes the warm-up compiles).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from diffusers import AutoencoderKL, UNet2DConditionModel
from diffusers.models.attention_processor import AttnProcessor2_0

from tools.image.decoders import TinyDecoder

logger = logging.getLogger(__name__)

MAX_COMPILE_BATCH = 64


@dataclass(frozen=True)
class FastOptions:
    """What the fast path may do, from the image tool's settings."""

    compile: bool = True
    compile_batches: tuple[int, ...] = (1, 2, 4)

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> FastOptions:
        return cls(
            compile=bool(settings.get("compile", True)),
            compile_batches=batch_sizes(settings.get("compile_batches", "1,2,4")),
        )


def batch_sizes(value: str | Sequence[int]) -> tuple[int, ...]:
    """ "1,2,4" (or [1, 2, 4]) as sorted distinct batch sizes; ValueError for anything else."""
    parts = value.split(",") if isinstance(value, str) else list(value)
    try:
        sizes = sorted({int(part) for part in parts})
    except (TypeError, ValueError):
        raise ValueError(f"image_compile_batches is {value!r}; expected sizes like 1,2,4") from None
    if not sizes or sizes[0] < 1 or sizes[-1] > MAX_COMPILE_BATCH:
        raise ValueError(f"image_compile_batches must be sizes from 1 to {MAX_COMPILE_BATCH}")
    return tuple(sizes)


def speed_up(
    pipe: Any, decoder: TinyDecoder | None, device: torch.device, options: FastOptions
) -> tuple[str, ...]:
    """Switch the fast path on for a pipeline on `device`; the names of what was applied
    (none on a CPU). The modules stay the same objects: the image-to-image pipeline, which
    shares them, is fast too."""
    if device.type != "cuda":
        return ()
    applied = (str(pipe.dtype).removeprefix("torch."), *optimise_modules(pipe, decoder))
    if options.compile:
        compile_modules(pipe, decoder)
        applied = (*applied, "compiled")
    return applied


def optimise_modules(pipe: Any, decoder: TinyDecoder | None) -> tuple[str, ...]:
    """SDPA with fused projections, and channels_last. Device-agnostic (a CPU test runs it):
    the pictures stay the same up to rounding."""
    fused = [name for name, model in (("UNet", pipe.unet), ("VAE", pipe.vae)) if _fuse(model)]
    applied = ["SDPA", *([f"fused QKV ({', '.join(fused)})"] if fused else [])]
    for module in (pipe.unet, pipe.vae, None if decoder is None else decoder.module):
        if module is not None:
            module.to(memory_format=torch.channels_last)
    applied.append("channels_last")
    return tuple(applied)


def _fuse(model: Any) -> bool:
    """Fused projections where the model allows them (they also set the fused SDPA
    processor); else plain SDPA. Models with added KV projections cannot be fused."""
    if not isinstance(model, UNet2DConditionModel | AutoencoderKL):
        return False  # another family's model: left as diffusers set it up
    try:
        model.fuse_qkv_projections()
    except (ValueError, AttributeError) as why:
        logger.info("no fused QKV for %s (%s); plain SDPA", type(model).__name__, why)
        model.set_attn_processor(AttnProcessor2_0())
        return False
    return True


def compile_modules(pipe: Any, decoder: TinyDecoder | None) -> None:
    """torch.compile in place (nn.Module.compile): the pipeline keeps its modules, so
    components, memory counts and the shared image-to-image pipeline see no wrapper."""
    import torch._inductor.config as inductor  # loaded on demand: compiling only

    # 1x1 convolutions as matmuls: the UNet's and VAE's projections run faster that way.
    inductor.conv_1x1_as_mm = True
    pipe.unet.compile(dynamic=False)
    pipe.vae.decoder.compile(dynamic=False)
    if decoder is not None:
        decoder.module.decoder.compile(dynamic=False)


def uncompile(pipe: Any, decoder: TinyDecoder | None) -> None:
    """Back to eager modules (what nn.Module.compile set, unset): after a failed warm-up."""
    modules = [pipe.unet, pipe.vae.decoder, None if decoder is None else decoder.module.decoder]
    for module in modules:
        if module is not None:
            module._compiled_call_impl = None


def is_compiled(module: torch.nn.Module) -> bool:
    """Whether nn.Module.compile was called on it."""
    return getattr(module, "_compiled_call_impl", None) is not None
