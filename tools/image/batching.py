"""An image render as scheduler work (tools/scheduling/): text-to-image jobs of one model at
one size, steps, guidance, decoder, memory plan, IP-Adapter state (no reference, or the
same reference at the same strength) and trained style (none, or the same piece with the same
weights file) batch with other people's; image-to-image (a
variation, a refinement, an upscale) runs alone, through the same line."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

from PIL import Image

from tools.image.loaded import LoadedImagePipeline
from tools.image.memory import MemoryOptions
from tools.image.rendering import Render, StepCallback, render, render_many
from tools.scheduling.work import Work

KIND = "image"

Pictures = list[Image.Image]


def render_work(
    loaded: LoadedImagePipeline, job: Render, memory: MemoryOptions, on_step: StepCallback
) -> Work[Render, Pictures]:
    """The render as one job: its pictures, with its own step callback."""
    alone = job.init_image is not None
    shape = (
        None
        if alone
        else (
            job.width,
            job.height,
            job.steps,
            job.guidance,
            job.tiny_decoder,
            memory,
            job.adapter_state,
            job.style_key,
        )
    )
    return Work(
        model=loaded,
        kind=KIND,
        item=job,
        run=partial(render_batch, loaded, memory),
        shape=shape,
        size=len(job.seeds),
        on_step=on_step,
    )


def render_batch(
    loaded: LoadedImagePipeline,
    memory: MemoryOptions,
    jobs: Sequence[Render],
    on_step: StepCallback,
) -> list[Pictures]:
    """The jobs as one pipeline call under the model's lock, with the memory plan for all of
    their pictures together."""
    first = jobs[0]
    pictures = sum(len(job.seeds) for job in jobs)
    with loaded.lock:
        loaded.prepare(memory, width=first.width, height=first.height, batch=pictures)
        if first.reference is not None:
            loaded.load_ip_adapter(first.ip_adapter)
        if first.init_image is not None:
            return [render(loaded, first, on_step)]
        return render_many(loaded, jobs, on_step)
