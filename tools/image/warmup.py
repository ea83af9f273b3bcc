"""The warm-up at load: each batch size the fast path compiles (tools/image/fast.py) run once
through the real pipeline at the model's native square, with the full VAE and, when one is
loaded, the tiny decoder, so compiling happens while the model loads and not in a person's
turn. One step each: the compiled graphs depend on shapes, not on the number of steps.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tools.image.loaded import LoadedImagePipeline
from tools.image.rendering import Render, render

WARM_PROMPT = "a lighthouse in fog, oil painting"


@dataclass(frozen=True)
class WarmShape:
    """One warm-up render: a batch at a size, through one decoder."""

    batch: int
    width: int
    height: int
    tiny_decoder: bool


def warm_plan(batches: Sequence[int], native: int, *, tiny_decoder: bool) -> tuple[WarmShape, ...]:
    """Every batch size at the native square through the full VAE, and through the tiny
    decoder when there is one."""
    decoders = (False, True) if tiny_decoder else (False,)
    return tuple(WarmShape(batch, native, native, tiny) for batch in batches for tiny in decoders)


def warm_up(loaded: LoadedImagePipeline, plan: Sequence[WarmShape]) -> None:
    """Render each shape of the plan once. Called while loading, before anyone else holds
    the model, so without its lock."""
    for shape in plan:
        job = Render(
            prompt=WARM_PROMPT,
            negative_prompt="",
            width=shape.width,
            height=shape.height,
            steps=1,
            guidance=loaded.defaults.guidance,
            seeds=tuple(range(shape.batch)),
            tiny_decoder=shape.tiny_decoder,
        )
        render(loaded, job, _no_progress)


def describe_plan(plan: Sequence[WarmShape]) -> str:
    """`batches 1, 2, 4 at 512x512 (full VAE, tiny decoder)`."""
    if not plan:
        return "nothing to warm"
    batches = ", ".join(str(b) for b in sorted({shape.batch for shape in plan}))
    sizes = ", ".join(sorted({f"{shape.width}x{shape.height}" for shape in plan}))
    decoders = "full VAE, tiny decoder" if any(s.tiny_decoder for s in plan) else "full VAE"
    return f"batches {batches} at {sizes} ({decoders})"


def _no_progress(_done: int, _total: int) -> None:
    return None
