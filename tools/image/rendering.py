"""One pipeline call: a batch of images from a Render, one seed each, or from several
text-to-image Renders of one shape at once (the scheduler's batch across people), stopping
between steps when the step callback raises (a cancelled run). A job's trained style is worn
by the UNet for its call only (tools/image/personal_style.py)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from PIL import Image

from tools.image.ip_adapter import neutral_embeds
from tools.image.loaded import LoadedImagePipeline
from tools.image.personal_style import PersonalStyle, wearing


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
    tiny_decoder: bool = False  # decoded by the tiny decoder (tools/image/decoders.py)
    # A style reference for the IP-Adapter (tools/image/ip_adapter.py): the picture, the
    # piece it is, and the adapter's scale; renders batch only with the same one.
    reference: Image.Image | None = None
    reference_number: int | None = None
    reference_strength: float = 0.0
    ip_adapter: str | None = None  # the IP-Adapter spec the reference needs
    # The person's own trained style, worn by the UNet for this call
    # (tools/image/personal_style.py); renders batch only with the same one.
    style: PersonalStyle | None = None

    @property
    def adapter_state(self) -> tuple[int | None, float]:
        """What the IP-Adapter is set to for this render: renders batch only when equal."""
        return (self.reference_number, self.reference_strength if self.reference else 0.0)

    @property
    def style_key(self) -> tuple[int, str] | None:
        """The trained style this render wears: renders batch only when equal."""
        return None if self.style is None else self.style.key


StepCallback = Callable[[int, int], None]  # (steps done, steps in all); may raise to stop


def render(loaded: LoadedImagePipeline, job: Render, on_step: StepCallback) -> list[Image.Image]:
    """Run the pipeline, wearing the job's trained style when it has one. The caller holds
    `loaded.lock`.

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
        "output_type": output_type(job),
        **reference_inputs(loaded, job),
    }
    with wearing(loaded, job.style), torch.inference_mode():
        if job.init_image is None:
            result = loaded.text2img(**common, width=job.width, height=job.height)
        else:
            image = job.init_image.convert("RGB")
            if image.size != (job.width, job.height):
                image = image.resize((job.width, job.height), Image.Resampling.LANCZOS)
            result = loaded.img2img(**common, image=image, strength=job.strength)
    return pictures(loaded, job, result.images)


def reference_inputs(loaded: LoadedImagePipeline, job: Render) -> dict[str, Any]:
    """The IP-Adapter's inputs for a call: the reference at its strength; once the adapter
    is loaded, a render without one sets the scale to 0 with empty embeddings, which leaves
    its picture as it was before. The caller holds `loaded.lock`."""
    if job.reference is not None:
        loaded.text2img.set_ip_adapter_scale(job.reference_strength)
        return {"ip_adapter_image": job.reference.convert("RGB")}
    if loaded.ip_adapter is None:
        return {}
    loaded.text2img.set_ip_adapter_scale(0.0)
    guided = job.guidance > 1.0  # as the pipelines decide classifier-free guidance
    return {"ip_adapter_image_embeds": neutral_embeds(loaded.ip_embed_dim, guided, loaded.dtype)}


def output_type(job: Render) -> str:
    """The tiny decoder takes the latents; else the pipeline decodes with its own VAE."""
    return "latent" if job.tiny_decoder else "pil"


def pictures(loaded: LoadedImagePipeline, job: Render, output: Any) -> list[Image.Image]:
    return loaded.tiny_pictures(output) if job.tiny_decoder else list(output)


def render_many(
    loaded: LoadedImagePipeline, jobs: Sequence[Render], on_step: StepCallback
) -> list[list[Image.Image]]:
    """Text-to-image Renders of one size, steps and guidance as one pipeline call, each job's
    pictures back in its own list. The caller holds `loaded.lock`.

    Each picture is its own prompt with its own CPU generator, so a job's pictures are those
    it would make alone: the prompt's embedding and the seed's noise do not depend on what
    else is in the batch."""
    if len(jobs) == 1:
        return [render(loaded, jobs[0], on_step)]
    if len({(job.tiny_decoder, job.adapter_state, job.style_key) for job in jobs}) > 1:
        return [render(loaded, job, on_step) for job in jobs]
    first = jobs[0]
    prompts = [job.prompt for job in jobs for _seed in job.seeds]
    negatives = [job.negative_prompt for job in jobs for _seed in job.seeds]
    generators = [torch.Generator("cpu").manual_seed(seed) for job in jobs for seed in job.seeds]

    def after_step(pipe: Any, index: int, _timestep: Any, tensors: dict[str, Any]) -> dict:
        on_step(index + 1, int(pipe.num_timesteps))
        return tensors

    with wearing(loaded, first.style), torch.inference_mode():
        result = loaded.text2img(
            prompt=prompts,
            negative_prompt=negatives if any(negatives) else None,
            num_inference_steps=first.steps,
            guidance_scale=first.guidance,
            generator=generators,
            num_images_per_prompt=1,
            callback_on_step_end=after_step,
            output_type=output_type(first),
            width=first.width,
            height=first.height,
            **reference_inputs(loaded, first),
        )
    images = pictures(loaded, first, result.images)
    split: list[list[Image.Image]] = []
    for job in jobs:
        split.append(images[: len(job.seeds)])
        images = images[len(job.seeds) :]
    return split


def img2img_steps(steps: int, strength: float) -> int:
    """Steps to ask an img2img pipeline for so that `steps` are run: it runs only the last
    `strength` share of its schedule (a Turbo model at 1 step and strength 0.5 needs 2)."""
    return max(steps, math.ceil(steps / strength - 1e-9))
