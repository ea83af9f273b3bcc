"""What one run of the image tool renders, decided before the model is touched (`Recipe`):
a new picture or grid from a prompt (a poem's lines, for a picture of the poem in focus), or
a variation, refinement or upscale of the image in focus (`Base`)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from PIL import Image

from tools.contract import ArtifactKind, FocusArtifact
from tools.image.intents import without_pieces
from tools.image.loaded import LoadedImagePipeline
from tools.image.rendering import Render, img2img_steps
from tools.image.rewrite import rewrite_prompt
from tools.image.safety import ImageRefused
from tools.image.sizes import fit_size, grid_cell, size_for, upscaled_size
from tools.image.taste import ImageTaste

if TYPE_CHECKING:
    from tools.contract import ToolContext
    from tools.image.tool import ImageArgs

Mode = Literal["new", "vary", "refine", "upscale", "illustrate", "styled", "cover"]
# How far each operation on the image in focus may move from it, unless `strength` says.
STRENGTH = {"vary": 0.6, "refine": 0.55, "upscale": 0.3}
# How strongly a style reference steers a new picture (the IP-Adapter's scale), unless
# `style_strength` says: diffusers' examples use 0.5-0.7 for style without copying content.
STYLE_STRENGTH = 0.6
NO_IMAGE = "There is no image to work on yet: make one first, or upload a picture."
NO_POEM = "There is no poem in focus to illustrate; name it as #N."
NO_REFERENCE = (
    "There is no picture to take the style from: attach one, or name it as "
    '`style_image:#12` (or "in the style of #12").'
)


@dataclass(frozen=True)
class Base:
    """The image a variation, refinement or upscale starts from, and what made it."""

    number: int
    image: Image.Image
    prompt: str
    negative_prompt: str
    seed: int | None
    pick: int | None  # the grid cell, when the focus was a grid


@dataclass(frozen=True)
class Recipe:
    """Everything one run needs, decided before the model is touched."""

    mode: Mode
    render: Render
    aspect: str | None
    steps: int  # as requested; img2img runs ask the pipeline for more (img2img_steps)
    base: Base | None = None
    notes: tuple[str, ...] = ()
    poem: int | None = None  # the poem in focus this picture illustrates
    reference: Base | None = None  # the picture whose style a new picture follows
    cover_of: int | None = None  # the clip in focus this picture is a cover for
    taste: ImageTaste = ImageTaste()  # what the person's kept pictures lent (tools/image/taste.py)


def new_recipe(
    args: ImageArgs,
    loaded: LoadedImagePipeline,
    mode: Mode = "new",
    poem: int | None = None,
    reference: Base | None = None,
    ip_adapter: str | None = None,
) -> Recipe:
    """A picture (or a grid of `count`) of the prompt, at the aspect asked for; in the
    style of `reference` through the IP-Adapter `ip_adapter` when one is given."""
    width, height = size_for(args.aspect, loaded.defaults.native)
    seed = args.seed if args.seed is not None else fresh_seed()
    steps = args.steps or loaded.defaults.steps
    job = Render(
        prompt=args.prompt,
        negative_prompt=args.negative_prompt or "",
        width=width,
        height=height,
        steps=steps,
        guidance=guidance_for(args, loaded),
        seeds=tuple(seed + i for i in range(args.count)),
        **reference_fields(args, reference, ip_adapter),
    )
    return Recipe(mode, job, args.aspect, steps, poem=poem, reference=reference)


def reference_fields(
    args: ImageArgs, reference: Base | None, ip_adapter: str | None
) -> dict[str, object]:
    """The Render's style reference: its picture, piece and strength (none: {})."""
    if reference is None:
        return {}
    strength = args.style_strength if args.style_strength is not None else STYLE_STRENGTH
    return {
        "reference": reference.image,
        "reference_number": reference.number,
        "reference_strength": strength,
        "ip_adapter": ip_adapter,
    }


def reference_in_focus(focus: FocusArtifact | None, pick: int | None) -> Base:
    """The picture a styled picture takes its style from: the image in focus (an upload
    becomes the focus, "#12" names one); refused when the focus is not an image."""
    if focus is None or focus.kind is not ArtifactKind.IMAGE or focus.media_path is None:
        raise ImageRefused(NO_REFERENCE)
    return base_of(focus, pick)


def focus_recipe(
    args: ImageArgs, mode: Mode, base: Base, loaded: LoadedImagePipeline, context: ToolContext
) -> Recipe:
    """Image-to-image from the image in focus: its prompt changed by the instruction (the
    prompt field), a new seed for a variation, twice the size for an upscale."""
    strength = args.strength if args.strength is not None else STRENGTH[mode]
    steps = args.steps or loaded.defaults.steps
    notes: list[str] = []
    width, height = fit_size(*base.image.size, native=loaded.defaults.native)
    image, prompt = base.image, base.prompt
    instruction = without_pieces(args.prompt)  # a #N left in it names a piece, not a change
    if mode == "upscale":
        width, height = upscaled_size(base.number, base.image)
        image = base.image.resize((width, height), Image.Resampling.LANCZOS)
    elif instruction:
        context.progress(0.02, "rewriting the prompt")
        prompt, why = rewrite_prompt(context, base.prompt, instruction, base.seed or 0)
        notes.extend([why] if why else [])
    seed = _focus_seed(args, mode, base)
    count = args.count if mode == "vary" else 1
    if args.count > count:
        notes.append(f"count={args.count} applies to new images and variations; made one")
    job = Render(
        prompt=prompt,
        negative_prompt=args.negative_prompt or base.negative_prompt,
        width=width,
        height=height,
        steps=img2img_steps(steps, strength),
        guidance=guidance_for(args, loaded),
        seeds=tuple(seed + i for i in range(count)),
        init_image=image,
        strength=strength,
    )
    return Recipe(mode, job, None, steps, base, tuple(notes))


def _focus_seed(args: ImageArgs, mode: Mode, base: Base) -> int:
    """A variation (or an upload, which has none) draws a new seed; the rest keep the base's,
    unless a seed is given."""
    if mode == "vary" or base.seed is None:
        return args.seed if args.seed is not None else fresh_seed(avoid=base.seed)
    return args.seed if args.seed is not None else base.seed


def poem_in_focus(focus: FocusArtifact | None) -> FocusArtifact:
    """The poem a picture of a poem is painted from; refused when none with words is in focus."""
    if focus is None or focus.kind is not ArtifactKind.POEM or not (focus.text or "").strip():
        raise ImageRefused(NO_POEM)
    return focus


def base_in_focus(focus: FocusArtifact | None, pick: int | None) -> Base:
    """The image in focus to build on; refused when the focus is not an image."""
    if focus is None or focus.kind is not ArtifactKind.IMAGE or focus.media_path is None:
        raise ImageRefused(NO_IMAGE)
    return base_of(focus, pick)


def _readable(focus: FocusArtifact) -> Image.Image:
    """The piece's picture, or a refusal naming it when its file cannot be read (damaged on
    disk, or not a picture after all): the person learns which piece, not a traceback."""
    assert focus.media_path is not None
    try:
        with Image.open(focus.media_path) as opened:
            return opened.convert("RGB")
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise ImageRefused(
            f"I can't read the picture of #{focus.number}: its file is damaged or not an "
            "image. Make a new one, or upload the picture again."
        ) from None


def base_of(focus: FocusArtifact, pick: int | None) -> Base:
    """The image in focus (one cell of it, for a grid) with the prompt and seed that made it.
    An upload has neither: its prompt is empty and a seed is drawn."""
    assert focus.media_path is not None
    params = focus.params
    image = _readable(focus)
    seeds = list(params.get("seeds") or ([params["seed"]] if "seed" in params else []))
    grid = params.get("grid")
    cell = None
    if grid and len(seeds) > 1:
        cell = min(pick or 1, len(seeds))
        image = grid_cell(
            image, cell, int(grid["cols"]), int(params["width"]), int(params["height"])
        )
    seed = seeds[(cell or 1) - 1] if seeds else None
    uploaded = "upload" in params
    prompt = "" if uploaded else str(params.get("prompt", focus.prompt))
    return Base(
        number=focus.number,
        image=image,
        prompt=prompt,
        negative_prompt=str(params.get("negative_prompt") or ""),
        seed=None if seed is None else int(seed),
        pick=cell,
    )


def fresh_seed(avoid: int | None = None) -> int:
    while True:
        seed = secrets.randbelow(2**31 - 4)  # room for a grid's seed + 3
        if seed != avoid:
            return seed


def guidance_for(args: ImageArgs, loaded: LoadedImagePipeline) -> float:
    return args.guidance if args.guidance is not None else loaded.defaults.guidance
