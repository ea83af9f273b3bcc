"""The tiny decoder: TAESD (diffusers' AutoencoderTiny), loaded beside the image model's VAE.

At 512x512 and one step the full VAE decoder is most of SD-Turbo's work (about 2.5 of 3.4
TFLOP per image); TAESD turns the same latents into pixels for a small fraction of that, a
little less sharp. `image_decoder_use` says which pictures it makes:
  previews  a grid's pictures (count 2-4: pictures to choose from); a single picture, a
            variation, a refinement and an upscale (the finals) keep the full VAE
  always    every picture: for a busy server
  never     none (the decoder stays loaded, unused)

ATELIER_MODEL_IMAGE_DECODER names it, as one of:
  tiny:decoder  small seeded random weights of AutoencoderTiny, built once under the cache
                dir and loaded back with from_pretrained, fitting tiny:image: for tests
  a directory   a saved AutoencoderTiny (config.json and weights), e.g. madebyollin/taesd for
                SD 1.x/2.x and sd-turbo, madebyollin/taesdxl for SDXL
  org/name      a hub id (the local hub cache when offline)
It must fit the image model's latents (the same channels, the same upscale factor), or the
image model is refused at load in one line.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch
from diffusers import AutoencoderTiny

from tools.models.cache import build_atomically
from tools.models.sources import Source, local_or_hub
from tools.models.specs import IMAGE_DECODER, TINY_DECODER

logger = logging.getLogger(__name__)

DecoderUse = Literal["previews", "always", "never"]
DECODER_USES: tuple[DecoderUse, ...] = ("previews", "always", "never")
FULL_VAE = "vae"  # what a picture's `decoder` param says when the full VAE made it
TINY_DECODER_CACHE_NAME = "tiny-decoder"
TINY_DECODER_SEED = 0
_FORMS = "tiny:decoder, an AutoencoderTiny directory, or a hub id like madebyollin/taesd"


@dataclass(eq=False)
class TinyDecoder:
    """A loaded AutoencoderTiny; only its decoder half is used."""

    spec: str
    module: AutoencoderTiny

    @property
    def upscale(self) -> int:
        """Pixels per latent along a side."""
        config = self.module.config
        return int(config.upsampling_scaling_factor) ** (len(config.decoder_block_out_channels) - 1)

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        """The pipeline's latents (as the scheduler leaves them) as images in [-1, 1], the
        range diffusers' image processor takes."""
        config = self.module.config
        scaled = latents.to(self.module.dtype) / config.scaling_factor + config.shift_factor
        return self.module.decode(scaled, return_dict=False)[0]


def decoder_use(settings: Mapping[str, Any]) -> DecoderUse:
    value = str(settings.get("decoder_use", "previews")).lower()
    if value not in DECODER_USES:
        raise ValueError(f"image_decoder_use is {value!r}; expected one of {DECODER_USES}")
    return value  # type: ignore[return-value]


def uses_tiny(use: DecoderUse, pictures: int) -> bool:
    """Whether the tiny decoder makes a run of `pictures` images (a grid when above 1)."""
    return use == "always" or (use == "previews" and pictures > 1)


def load_tiny_decoder(
    spec: str, *, cache_dir: Path, device: torch.device, dtype: torch.dtype, vae: Any
) -> TinyDecoder:
    """The decoder a spec names, on the image model's device and in its dtype, checked
    against the image model's `vae`. Raises ModelUnavailable with a one-line reason."""
    source = _resolve_source(spec, cache_dir)
    try:
        module = AutoencoderTiny.from_pretrained(source.path, torch_dtype=dtype)
    except (OSError, ValueError, KeyError) as exc:  # missing files, or not an AutoencoderTiny
        raise IMAGE_DECODER.unavailable(spec, source.describe_failure(exc)) from exc
    decoder = TinyDecoder(spec, module.to(device).eval())
    _check_fit(decoder, vae)
    return decoder


def _check_fit(decoder: TinyDecoder, vae: Any) -> None:
    """A decoder for another model family would make noise, or fail at the first picture."""
    want_channels = int(vae.config.latent_channels)
    want_upscale = 2 ** (len(vae.config.block_out_channels) - 1)
    have_channels = int(decoder.module.config.latent_channels)
    if have_channels != want_channels or decoder.upscale != want_upscale:
        raise IMAGE_DECODER.unavailable(
            decoder.spec,
            f"it decodes {have_channels}-channel latents {decoder.upscale}x, and the image "
            f"model's are {want_channels}-channel at {want_upscale}x",
        )


def _resolve_source(spec: str, cache_dir: Path) -> Source:
    if spec == TINY_DECODER:
        return Source(str(ensure_tiny_decoder(cache_dir)))
    if spec.startswith(("tiny:", "bundled:")):
        raise IMAGE_DECODER.unavailable(
            spec, f"no such built-in decoder; accepted forms are {_FORMS}"
        )
    return local_or_hub(
        spec,
        IMAGE_DECODER,
        not_a_spec=f"not a decoder spec; accepted forms are {_FORMS}",
        hint=" (not an AutoencoderTiny)",
    )


def ensure_tiny_decoder(cache_dir: Path) -> Path:
    """tiny:decoder saved once: seeded random weights, so every machine builds the same one."""
    target = cache_dir / TINY_DECODER_CACHE_NAME
    if (target / "config.json").is_file():
        return target
    logger.info("building the tiny random-weight image decoder once in %s", target)

    def build(into: Path) -> None:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(TINY_DECODER_SEED)
            tiny_decoder_module().save_pretrained(into)

    build_atomically(target, build)
    return target


def tiny_decoder_module() -> AutoencoderTiny:
    """AutoencoderTiny at toy size for tiny:image's latents: 4 channels, 2x (two blocks)."""
    return AutoencoderTiny(
        encoder_block_out_channels=(16, 16),
        decoder_block_out_channels=(16, 16),
        num_encoder_blocks=(1, 1),
        num_decoder_blocks=(1, 1),
        latent_channels=4,
    )
