"""tiny:image: a Stable Diffusion pipeline of the real classes (UNet2DConditionModel,
AutoencoderKL, CLIPTextModel, a byte-level CLIPTokenizer, an Euler scheduler) with small
seeded random weights, built once under the cache dir and loaded back with from_pretrained
like any real model: for tests and offline plumbing."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch
from diffusers import DiffusionPipeline

from tools.models.cache import build_atomically
from tools.models.vision import byte_level_clip_tokenizer

logger = logging.getLogger(__name__)

TINY_IMAGE_CACHE_NAME = "tiny-image"
TINY_IMAGE_SEED = 0


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
