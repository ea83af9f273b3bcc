"""The IP-Adapter: a picture as a style reference for the image model, through diffusers'
own `load_ip_adapter` (its image projection, its cross-attention processors and the CLIP
image encoder beside them).

ATELIER_MODEL_IMAGE_IP_ADAPTER (the image tool's `ip_adapter` setting) names it, as one of:
  tiny:ip-adapter     seeded random weights whose shapes fit the UNet loaded (tiny:image), with
                      a tiny CLIPVisionModelWithProjection, built once under the cache dir and
                      loaded back with load_ip_adapter: for tests
  SOURCE:SUB/FILE     a directory or hub id, the weights file inside it, and its image encoder
                      in SUB/image_encoder, as h94/IP-Adapter lays them out:
                        h94/IP-Adapter:models/ip-adapter_sd15.safetensors        (SD 1.x)
                        h94/IP-Adapter:models/ip-adapter_sd21.safetensors        (SD 2.x)
                        h94/IP-Adapter:sdxl_models/ip-adapter_sdxl_vit-h.safetensors (SDXL;
                          its image encoder is models/image_encoder: add
                          `@models/image_encoder` to name it)
It is loaded on the first picture that asks for a reference, and stays loaded: a picture
without one then runs with the adapter's scale at 0 and empty image embeddings, which
diffusers skips (IPAdapterAttnProcessor2_0: `scale == 0` adds nothing), so it is the same
picture as before the adapter came.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from tools.models.cache import build_atomically
from tools.models.specs import ModelUnavailable

logger = logging.getLogger(__name__)

SETTING = "ATELIER_MODEL_IMAGE_IP_ADAPTER"
TINY_IP_ADAPTER = "tiny:ip-adapter"
TINY_IP_ADAPTER_CACHE_NAME = "tiny-ip-adapter"
TINY_IP_ADAPTER_SEED = 0
TINY_SUBFOLDER = "models"
TINY_WEIGHT_NAME = "ip-adapter_tiny.safetensors"
IMAGE_ENCODER = "image_encoder"
# diffusers' plain IP-Adapter projects one image embedding to four text-like tokens.
IMAGE_TOKENS = 4
CHOICES = (
    "tiny:ip-adapter, or SOURCE:SUBFOLDER/WEIGHTS like "
    "h94/IP-Adapter:models/ip-adapter_sd15.safetensors"
)


@dataclass(frozen=True)
class IpAdapterSource:
    """What load_ip_adapter reads: where, the weights file, and the image encoder's folder."""

    path: str
    subfolder: str
    weight_name: str
    image_encoder_folder: str


NOT_SET = "no IP-Adapter is set, so a picture cannot be a style reference"


def unavailable(spec: str | None, reason: str = NOT_SET) -> ModelUnavailable:
    return ModelUnavailable(
        spec or "(none)", reason, role="IP-Adapter", setting=SETTING, choices=CHOICES
    )


def source_of(spec: str | None, cache_dir: Path, unet: Any) -> IpAdapterSource:
    """The spec as load_ip_adapter's arguments; a missing or malformed one is one line
    naming the setting."""
    if not spec:
        raise unavailable(spec)
    if spec == TINY_IP_ADAPTER:
        root = ensure_tiny_ip_adapter(cache_dir, unet)
        return IpAdapterSource(str(root), TINY_SUBFOLDER, TINY_WEIGHT_NAME, IMAGE_ENCODER)
    if spec.startswith(("tiny:", "bundled:")):
        raise unavailable(spec, "no such built-in IP-Adapter")
    where, _, rest = spec.partition(":")
    weights, _, encoder = rest.partition("@")
    subfolder, _, weight_name = weights.rpartition("/")
    if not where or not weight_name.endswith((".safetensors", ".bin")):
        raise unavailable(spec, "not an IP-Adapter spec")
    # diffusers reads a folder name without a slash as relative to the weights' subfolder.
    return IpAdapterSource(where, subfolder, weight_name, encoder or IMAGE_ENCODER)


def load_into(pipe: Any, spec: str | None, cache_dir: Path) -> int:
    """Load the IP-Adapter a spec names into the pipeline (diffusers' load_ip_adapter); the
    width of its image embeddings. Raises ModelUnavailable in one line."""
    source = source_of(spec, cache_dir, pipe.unet)
    try:
        pipe.load_ip_adapter(
            source.path,
            subfolder=source.subfolder,
            weight_name=source.weight_name,
            image_encoder_folder=source.image_encoder_folder,
        )
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        # OSError: files missing or offline; the rest: weights that do not fit this model.
        raise unavailable(spec, str(exc)) from exc
    if pipe.image_encoder is None:
        raise unavailable(spec, "its image encoder was not found")
    logger.info("IP-Adapter %s loaded into the image model", spec)
    return int(pipe.image_encoder.config.projection_dim)


def neutral_embeds(width: int, guided: bool, dtype: torch.dtype) -> list[torch.Tensor]:
    """Image embeddings for a picture without a reference, with the scale at 0: diffusers
    wants some when the adapter is loaded, and skips them at scale 0. Classifier-free
    guidance reads a negative half first."""
    return [torch.zeros(2 if guided else 1, 1, width, dtype=dtype)]


def ensure_tiny_ip_adapter(cache_dir: Path, unet: Any) -> Path:
    """tiny:ip-adapter saved once, shaped for `unet`: seeded random weights."""
    target = cache_dir / TINY_IP_ADAPTER_CACHE_NAME
    if (target / "config.json").is_file():
        return target
    logger.info("building the tiny random-weight IP-Adapter once in %s", target)

    def build(into: Path) -> None:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(TINY_IP_ADAPTER_SEED)
            save_tiny_ip_adapter(into, unet)

    build_atomically(target, build)
    return target


def save_tiny_ip_adapter(into: Path, unet: Any) -> None:
    """A tiny CLIP image encoder with its image processor, and IP-Adapter weights in the
    layout load_ip_adapter reads (`image_proj.*`, `ip_adapter.N.to_k_ip/to_v_ip`)."""
    from safetensors.torch import save_file
    from transformers import (
        CLIPImageProcessor,
        CLIPVisionConfig,
        CLIPVisionModelWithProjection,
    )

    encoder = CLIPVisionModelWithProjection(
        CLIPVisionConfig(
            hidden_size=32,
            intermediate_size=37,
            num_hidden_layers=2,
            num_attention_heads=4,
            image_size=32,
            patch_size=8,
            projection_dim=32,
        )
    )
    folder = into / TINY_SUBFOLDER
    encoder.save_pretrained(folder / IMAGE_ENCODER)
    CLIPImageProcessor(size=32, crop_size=32).save_pretrained(folder / IMAGE_ENCODER)
    weights = tiny_weights(unet, int(encoder.config.projection_dim))
    save_file(weights, str(folder / TINY_WEIGHT_NAME))
    # The marker build_atomically looks for when another process built it first.
    (into / "config.json").write_text(json.dumps({"ip_adapter": TINY_WEIGHT_NAME}))


def tiny_weights(unet: Any, embed_dim: int) -> dict[str, torch.Tensor]:
    """Random weights fitting the UNet's cross-attention, numbered as the original
    IP-Adapter numbers them: over every attention processor, the cross-attention ones odd."""
    cross = int(unet.config.cross_attention_dim)
    weights = {
        "image_proj.proj.weight": torch.randn(IMAGE_TOKENS * cross, embed_dim) * 0.2,
        "image_proj.proj.bias": torch.zeros(IMAGE_TOKENS * cross),
        "image_proj.norm.weight": torch.ones(cross),
        "image_proj.norm.bias": torch.zeros(cross),
    }
    key = 1
    for name in unet.attn_processors:
        if name.endswith("attn1.processor"):
            continue
        hidden = hidden_size(unet, name)
        weights[f"ip_adapter.{key}.to_k_ip.weight"] = torch.randn(hidden, cross) * 0.2
        weights[f"ip_adapter.{key}.to_v_ip.weight"] = torch.randn(hidden, cross) * 0.2
        key += 2
    return weights


def hidden_size(unet: Any, name: str) -> int:
    """The width of the attention a processor belongs to, as diffusers reads it."""
    channels = list(unet.config.block_out_channels)
    if name.startswith("mid_block"):
        return int(channels[-1])
    block = int(name.split(".")[1])
    return int(channels[block] if name.startswith("down_blocks") else channels[::-1][block])
