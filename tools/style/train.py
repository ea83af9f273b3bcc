"""DreamBooth-LoRA training of a style on the image model's own UNet, in place.

The loaded pipeline's UNet is shared with every picture being made, so training holds the
pipeline's lock throughout, adds a LoRA adapter (peft, through diffusers' `add_adapter`) with
the rest frozen, and in a `finally` deletes it and puts the UNet's own layers back, with
their `requires_grad` and train/eval mode as they were: a picture made after training is the
picture it was before.

Each step: a few of the pictures (already VAE-encoded, scaled by the VAE's scaling factor),
noise at random timesteps added by a DDPMScheduler made from the pipeline's scheduler config,
the UNet asked for that noise (or the velocity, per the config's prediction_type) given the
instance prompt's text embeddings, and AdamW on the LoRA parameters only. Everything random
comes from one seeded generator, so the same pictures and seed train the same weights.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import peft
import torch
import torch.nn.functional as functional
from diffusers import DDPMScheduler
from PIL import Image

from tools.contract import ToolRefused
from tools.image.ip_adapter import neutral_embeds
from tools.image.loaded import LoadedImagePipeline
from tools.image.personal_style import eager, plain_attention
from tools.style.weights import StyleWeights

# The attention projections: where a LoRA learns a look without rewriting the convolutions.
TARGETS = ("to_q", "to_k", "to_v", "to_out.0")
# Not "train" or any other torch.nn.Module attribute: peft adds it as one.
ADAPTER = "atelier_style_training"
BATCH = 4  # pictures a step looks at (all of them when there are fewer)


@dataclass(frozen=True)
class TrainingPlan:
    steps: int
    max_seconds: float
    seed: int
    rank: int = 8
    alpha: int = 8
    learning_rate: float = 1e-4
    instance_prompt: str = ""


@dataclass(frozen=True)
class Trained:
    weights: StyleWeights
    losses: tuple[float, ...]  # one per step


StepReport = Callable[[int, int, float], None]  # (done, total, seconds per step so far)


def train_style(
    loaded: LoadedImagePipeline,
    pictures: Sequence[Image.Image],
    plan: TrainingPlan,
    *,
    on_step: StepReport,
    check: Callable[[], None],
) -> Trained:
    """The LoRA learned from `pictures`; ToolRefused past the plan's time cap, Cancelled
    (from `check`) when called off. The shared UNet is as it was afterwards either way."""
    with loaded.lock:
        unet = loaded.text2img.unet
        saved = _unet_state(unet)
        try:
            _add_adapter(unet, plan)
            return _train(loaded, pictures, plan, on_step, check)
        finally:
            _restore(unet, saved)


@dataclass(frozen=True)
class _UnetState:
    training: bool
    requires_grad: dict[str, bool]
    processors: dict[str, Any] | None  # the fused attention processors set aside, if any
    compiled: Any  # the compiled forward set aside, if any


def _unet_state(unet: torch.nn.Module) -> _UnetState:
    """What training changes, recorded; on the CUDA fast path (tools/image/fast.py) fused
    q/k/v projections would bypass a LoRA on to_q/to_k/to_v, and a compiled UNet would
    recompile for the adapter's modules: both are set aside as for wearing a style."""
    flags = {name: param.requires_grad for name, param in unet.named_parameters()}
    return _UnetState(
        training=unet.training,
        requires_grad=flags,
        processors=plain_attention(unet),
        compiled=eager(unet),
    )


def _add_adapter(unet: Any, plan: TrainingPlan) -> None:
    unet.requires_grad_(False)
    config = peft.LoraConfig(
        r=plan.rank,
        lora_alpha=plan.alpha,
        target_modules=list(TARGETS),
        init_lora_weights="gaussian",
    )
    # The adapter's starting weights come from the seed too, not from the global generator.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(plan.seed)
        unet.add_adapter(config, adapter_name=ADAPTER)
    # LoRA parameters train in float32 even on a half-precision UNet: AdamW's small updates
    # vanish in float16.
    for param in unet.parameters():
        if param.requires_grad:
            param.data = param.data.float()


def _restore(unet: Any, saved: _UnetState) -> None:
    if ADAPTER in (getattr(unet, "peft_config", None) or {}):
        unet.delete_adapters(ADAPTER)
    # With no adapter left (none of the image tool's own), peft's wrappers go too.
    if not getattr(unet, "peft_config", None) and _has_peft_layers(unet):
        unet.unload_lora()
    for name, param in unet.named_parameters():
        param.requires_grad_(saved.requires_grad.get(name, False))
    unet.train(saved.training)
    if saved.processors is not None:
        unet.set_attn_processor(saved.processors)
    unet._compiled_call_impl = saved.compiled


def _has_peft_layers(unet: torch.nn.Module) -> bool:
    from peft.tuners.tuners_utils import BaseTunerLayer

    return any(isinstance(module, BaseTunerLayer) for module in unet.modules())


def _train(
    loaded: LoadedImagePipeline,
    pictures: Sequence[Image.Image],
    plan: TrainingPlan,
    on_step: StepReport,
    check: Callable[[], None],
) -> Trained:
    pipe, device = loaded.text2img, loaded.device
    unet = pipe.unet
    generator = torch.Generator("cpu").manual_seed(plan.seed)
    latents = _latents(loaded, pictures, generator)
    embeds = _prompt_embeds(loaded, plan.instance_prompt)
    scheduler = DDPMScheduler.from_config(pipe.scheduler.config)
    velocity = scheduler.config.prediction_type == "v_prediction"
    extra = _unet_extras(loaded, min(BATCH, len(latents)))
    trainable = [param for param in unet.parameters() if param.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=plan.learning_rate)
    unet.train()
    losses: list[float] = []
    started = time.monotonic()
    for step in range(1, plan.steps + 1):
        check()
        batch = latents[torch.randperm(len(latents), generator=generator)[:BATCH]]
        noise = torch.randn(batch.shape, generator=generator).to(device, batch.dtype)
        timesteps = torch.randint(
            0, scheduler.config.num_train_timesteps, (len(batch),), generator=generator
        ).to(device)
        noisy = scheduler.add_noise(batch, noise, timesteps)
        target = scheduler.get_velocity(batch, noise, timesteps) if velocity else noise
        predicted = unet(
            noisy, timesteps, encoder_hidden_states=embeds.expand(len(batch), -1, -1), **extra
        ).sample
        loss = functional.mse_loss(predicted.float(), target.float())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
        elapsed = time.monotonic() - started
        if elapsed > plan.max_seconds and step < plan.steps:
            raise ToolRefused(
                f"Training stopped at the time cap of {plan.max_seconds:g} s after {step} of "
                f"{plan.steps} steps; nothing was stored. The operator can raise "
                "ATELIER_STYLE_MAX_SECONDS."
            )
        on_step(step, plan.steps, elapsed / step)
    state = peft.get_peft_model_state_dict(unet, adapter_name=ADAPTER)
    tensors = {key: value.detach().to("cpu", torch.float32).clone() for key, value in state.items()}
    weights = StyleWeights(rank=plan.rank, alpha=plan.alpha, targets=TARGETS, tensors=tensors)
    return Trained(weights=weights, losses=tuple(losses))


def _latents(
    loaded: LoadedImagePipeline, pictures: Sequence[Image.Image], generator: torch.Generator
) -> torch.Tensor:
    """The pictures at the model's own size, as scaled VAE latents (sampled once, seeded)."""
    pipe, side = loaded.text2img, loaded.defaults.native
    squares = [_square(picture, side) for picture in pictures]
    pixels = pipe.image_processor.preprocess(squares, height=side, width=side)
    vae = pipe.vae
    with torch.no_grad():
        encoded = vae.encode(pixels.to(loaded.device, vae.dtype)).latent_dist
        sample = encoded.mean + encoded.std * torch.randn(
            encoded.mean.shape, generator=generator
        ).to(encoded.mean.device, encoded.mean.dtype)
    return (sample * vae.config.scaling_factor).to(pipe.unet.dtype)


def _square(picture: Image.Image, side: int) -> Image.Image:
    """The picture's centre square, at `side` pixels."""
    image = picture.convert("RGB")
    edge = min(image.size)
    left, top = (image.width - edge) // 2, (image.height - edge) // 2
    box = (left, top, left + edge, top + edge)
    return image.crop(box).resize((side, side), Image.Resampling.LANCZOS)


def _prompt_embeds(loaded: LoadedImagePipeline, prompt: str) -> torch.Tensor:
    with torch.no_grad():
        embeds, _ = loaded.text2img.encode_prompt(
            prompt, loaded.device, 1, do_classifier_free_guidance=False
        )
    return embeds.to(loaded.text2img.unet.dtype)


def _unet_extras(loaded: LoadedImagePipeline, batch: int) -> dict[str, Any]:
    """With an IP-Adapter loaded the UNet wants image embeddings: empty ones at scale 0,
    which add nothing (as a picture without a reference is made, tools/image/rendering.py)."""
    if loaded.ip_adapter is None:
        return {}
    loaded.text2img.set_ip_adapter_scale(0.0)
    [empty] = neutral_embeds(loaded.ip_embed_dim, False, loaded.dtype)
    embeds = empty.expand(batch, -1, -1).to(loaded.device)
    return {"added_cond_kwargs": {"image_embeds": [embeds]}}
