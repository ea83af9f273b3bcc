"""The image tool: pictures from descriptions, and variations, refinements and upscales of the
image in focus, on a local diffusion model.

A new image (or a grid of up to four): text-to-image at one of five aspect ratios, sized for
the model's native resolution. From the image in focus (one the bot made, or an upload),
image-to-image on the same weights:
  vary      "a variation of #3": the same prompt, a new seed
  refine    "make it darker", "at sunset": the prompt rewritten by the chat model, the same seed
  upscale   "upscale #3": twice the size (Lanczos), then a light image-to-image pass
A new picture can also be of the poem in focus ("illustrate my poem in watercolor"): painted
from the poem's lines and the style named (tools/from_poem.py), as a piece made from the poem.
Each result says what changed in one line (`prompt: +at sunset · seed 7 → 7 · strength 0.55`)
and carries its parameters in the PNG, as AUTOMATIC1111 writes them (tools/image/png_params.py).

The seed is drawn when not given and always recorded: the same arguments, seed and model give
the same PNG bytes on the same device. What is refused, and why, is tools/image/safety.py.
"""

from __future__ import annotations

import difflib
import io
import math
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from PIL import Image, ImageOps, UnidentifiedImageError
from pydantic import Field, field_validator

from tools.catalog import IMAGE, IMAGE_FOR_A_POEM
from tools.contract import (
    ArtifactDraft,
    ArtifactKind,
    FocusArtifact,
    Media,
    Tool,
    ToolArgs,
    ToolContext,
    UploadReader,
    UploadRejected,
)
from tools.from_poem import picture_prompt, poem_asked_for
from tools.image.pipeline import (
    LoadedImagePipeline,
    MemoryOptions,
    Render,
    img2img_steps,
    render,
)
from tools.image.png_params import GenerationParameters, png_bytes
from tools.image.safety import ImageRefused, SafetyPolicy, check_outputs, minors_refusal
from tools.models.loading import ModelUnavailable
from tools.models.sampling import Sampling, sample

MODEL_ROLE = "image"
CHAT_ROLE = "chat"
PNG = "image/png"
ASPECTS: Mapping[str, tuple[int, int]] = {
    "1:1": (1, 1),
    "3:2": (3, 2),
    "2:3": (2, 3),
    "16:9": (16, 9),
    "9:16": (9, 16),
}
STRENGTH = {"vary": 0.6, "refine": 0.55, "upscale": 0.3}
MAX_UPLOAD_BYTES = 10 * 1024 * 1024
MAX_UPLOAD_SIDE = 4096
MAX_UPSCALED_SIDE = 2048
MAX_REWRITE_CHARS = 400
UPLOAD_TYPES = ("image/png", "image/jpeg", "image/webp", "image/gif", "image/bmp")

Mode = Literal["new", "vary", "refine", "upscale"]

_MENTION = re.compile(r"(?<![\w#])#\d+\b")
_VARY = re.compile(
    r"\b(variations?|vary|variants?|another (version|take|one)|re-?roll|again)\b", re.IGNORECASE
)
_UPSCALE = re.compile(r"\b(upscale|upres|enlarge|higher resolution|hi-?res)\b", re.IGNORECASE)
# A change to the picture in focus rather than a new picture: "make it darker", "at sunset".
_CHANGE = re.compile(
    r"^(make (it|this|them|everything)|same\b|but\b|now\b|more\b|less\b|add\b|remove\b|"
    r"change\b|turn (it|this)|without\b|with\b|at\b|in\b|as\b|refine\b|edit\b|fix\b|keep\b|"
    r"(darker|lighter|brighter|warmer|cooler|colder|softer|sharper|bigger|smaller|happier|"
    r"sadder|moodier|calmer|simpler|busier)\b)",
    re.IGNORECASE,
)
# Words that say which operation, not what to change: dropped from the instruction.
_FILLER = re.compile(
    r"\b(please|(a |an )?(variations?|variants?) (of|on)|(a |an )?(variations?|variants?)|vary|"
    r"another (version|take) of|re-?roll|upscale|refine|same( image| picture)?( but)?|of)\b",
    re.IGNORECASE,
)
_STOPWORDS = frozenset(
    ("a", "an", "the", "of", "and", "or", "in", "on", "at", "with", "to", "for", "by", "from")
    + ("is", "are", "it", "this", "that", "into", "over", "under")
)


class ImageArgs(ToolArgs):
    prompt: str = Field(
        description="what to show, or how to change the image in focus",
        min_length=1,
        max_length=1000,
    )
    negative_prompt: str | None = Field(
        None, max_length=500, description="what to keep out of the picture"
    )
    aspect: str = Field(
        "1:1",
        description="aspect ratio: 1:1, 3:2, 2:3, 16:9 or 9:16",
        json_schema_extra={"choices": list(ASPECTS)},
    )
    steps: int | None = Field(None, ge=1, le=100, description="denoising steps (model default)")
    guidance: float | None = Field(
        None, ge=0, le=30, description="how closely to follow the prompt (model default)"
    )
    seed: int | None = Field(None, ge=0, le=2**31 - 1, description="the random seed")
    count: int = Field(1, ge=1, le=4, description="images to make, shown as one grid")
    strength: float | None = Field(
        None,
        ge=0.05,
        le=1.0,
        description="how far a variation, refinement or upscale may move from the image in focus",
    )
    mode: Mode | None = Field(
        None,
        description="new, vary, refine or upscale (default: from the request: 'a variation "
        "of #3' varies, 'upscale' upscales, a change such as 'make it darker' refines)",
    )
    pick: int | None = Field(
        None, ge=1, le=4, description="which image of a grid in focus to build on"
    )

    @field_validator("prompt")
    @classmethod
    def _something_to_show(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("say what the image should show, e.g. `/image a lighthouse in fog`")
        refusal = minors_refusal(value)
        if refusal is not None:
            raise ValueError(refusal)
        return value

    @field_validator("aspect")
    @classmethod
    def _supported_aspect(cls, value: str) -> str:
        normal = re.sub(r"\s*[x/×]\s*", ":", value.strip())
        if normal not in ASPECTS:
            raise ValueError(
                f"aspect ratio {value} is not supported; choose one of {', '.join(ASPECTS)}"
            )
        return normal


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


def make_image(args: ImageArgs, context: ToolContext) -> ArtifactDraft:
    context.check()
    base_focus = _image_focus(context.focus)
    mode = choose_mode(args, base_focus)
    policy = SafetyPolicy.from_settings(context.settings)
    poem = poem_asked_for(context.focus, args.prompt) if mode == "new" else None
    if poem is not None:  # "illustrate my poem": painted from its lines
        args = args.model_copy(update={"prompt": picture_prompt(poem, args.prompt)})
    if mode == "new":
        policy.check_prompt(args.prompt)
    loaded: LoadedImagePipeline = context.models.get(MODEL_ROLE)
    if mode == "new":
        recipe = replace(new_recipe(args, loaded), poem=None if poem is None else poem.number)
    else:
        if base_focus is None:
            raise ImageRefused(
                "There is no image to work on yet: make one first, or upload a picture."
            )
        base = base_of(base_focus, args.pick)
        recipe = focus_recipe(args, mode, base, loaded, context)
        policy.check_prompt(recipe.render.prompt)
    images = run_recipe(loaded, recipe, context, MemoryOptions.from_settings(context.settings))
    if policy.safety_checker:
        with loaded.lock:
            check_outputs(loaded.output_checker(policy.checker_model), images)
    context.check()
    context.progress(0.95, "saving")
    return to_draft(recipe, images, loaded)


def choose_mode(args: ImageArgs, focus: FocusArtifact | None) -> Mode:
    """The operation asked for: explicit, else read from the request and the image in focus."""
    if args.mode is not None:
        return args.mode
    if focus is None:
        return "new"
    text = args.prompt
    if _UPSCALE.search(text):
        return "upscale"
    if _VARY.search(text):
        return "vary"
    named = [int(n[1:]) for n in _MENTION.findall(text)]
    rest = _MENTION.sub("", text).strip(" ,.:;!")
    if focus.number in named or _CHANGE.match(rest):
        return "refine"
    return "new"


def new_recipe(args: ImageArgs, loaded: LoadedImagePipeline) -> Recipe:
    width, height = size_for(args.aspect, loaded.defaults.native)
    seed = args.seed if args.seed is not None else fresh_seed()
    steps = args.steps or loaded.defaults.steps
    job = Render(
        prompt=args.prompt,
        negative_prompt=args.negative_prompt or "",
        width=width,
        height=height,
        steps=steps,
        guidance=_guidance(args, loaded),
        seeds=tuple(seed + i for i in range(args.count)),
    )
    return Recipe("new", job, args.aspect, steps)


def focus_recipe(
    args: ImageArgs, mode: Mode, base: Base, loaded: LoadedImagePipeline, context: ToolContext
) -> Recipe:
    strength = args.strength if args.strength is not None else STRENGTH[mode]
    steps = args.steps or loaded.defaults.steps
    notes: list[str] = []
    width, height = fit_size(*base.image.size, native=loaded.defaults.native)
    image = base.image
    prompt, seed = base.prompt, base.seed
    instruction = instruction_of(args.prompt)
    if mode == "upscale":
        width, height = upscaled_size(base)
        image = base.image.resize((width, height), Image.Resampling.LANCZOS)
    elif instruction:
        context.progress(0.02, "rewriting the prompt")
        prompt, why = rewrite_prompt(context, base.prompt, instruction, seed or 0)
        notes.extend([why] if why else [])
    if mode == "vary" or seed is None:
        seed = args.seed if args.seed is not None else fresh_seed(avoid=base.seed)
    elif args.seed is not None:
        seed = args.seed
    count = args.count if mode == "vary" else 1
    if args.count > count:
        notes.append(f"count={args.count} applies to new images and variations; made one")
    job = Render(
        prompt=prompt,
        negative_prompt=args.negative_prompt or base.negative_prompt,
        width=width,
        height=height,
        steps=img2img_steps(steps, strength),
        guidance=_guidance(args, loaded),
        seeds=tuple(seed + i for i in range(count)),
        init_image=image,
        strength=strength,
    )
    return Recipe(mode, job, None, steps, base, tuple(notes))


def run_recipe(
    loaded: LoadedImagePipeline, recipe: Recipe, context: ToolContext, memory: MemoryOptions
) -> list[Image.Image]:
    job = recipe.render

    def after_step(done: int, total: int) -> None:
        context.progress(0.05 + 0.85 * done / max(total, 1), f"step {done}/{total}")
        context.check()  # raises Cancelled: the run stops between two steps

    context.check()
    with loaded.lock:
        loaded.prepare(memory, width=job.width, height=job.height, batch=len(job.seeds))
        return render(loaded, job, after_step)


# --- prompts -----------------------------------------------------------------------------------


def instruction_of(text: str) -> str:
    """What to change, with the piece's number and the operation's own words taken out:
    "a variation of #3 at sunset" -> "at sunset"."""
    text = _MENTION.sub(" ", text)
    text = _FILLER.sub(" ", text)
    return " ".join(text.split()).strip(" ,.:;!-")


def rewrite_prompt(
    context: ToolContext, old: str, instruction: str, seed: int
) -> tuple[str, str | None]:
    """The old prompt changed by the instruction, and a note when the chat model's rewrite
    could not be used and the instruction was appended instead."""
    appended = append_change(old, instruction)
    if not old:
        return instruction, None
    try:
        chat = context.models.get(CHAT_ROLE)
    except (ModelUnavailable, LookupError):
        return appended, "the chat model is unavailable, so the change was appended"
    messages = [
        {
            "role": "system",
            "content": "You rewrite prompts for an image generator. Keep the subject and "
            "style; apply the change. Reply with the new prompt only, on one line.",
        },
        {"role": "user", "content": f"Prompt: {old}\nChange: {instruction}"},
    ]
    [reply] = sample(
        chat, messages, count=1, seed=seed, sampling=Sampling(max_new_tokens=60, temperature=0.7)
    )
    context.check()
    problem = rewrite_problem(old, reply)
    if problem is not None:
        return appended, f"the chat model's rewrite {problem}, so the change was appended"
    return clean_reply(reply), None


def clean_reply(reply: str) -> str:
    first = next((line for line in reply.splitlines() if line.strip()), "")
    first = re.sub(r"^\s*(new prompt|prompt)\s*:\s*", "", first, flags=re.IGNORECASE)
    return first.strip().strip("\"'“”").strip()


def rewrite_problem(old: str, reply: str) -> str | None:
    """Why a rewrite cannot be used (None: it can). A small model's reply often repeats the
    request, runs on, or drifts to another subject; the picture must stay the same picture."""
    new = clean_reply(reply)
    if not new:
        return "was empty"
    if len(new) > max(MAX_REWRITE_CHARS, 2 * len(old)):
        return "ran on too long"
    if new.strip().lower() == old.strip().lower():
        return "changed nothing"
    subject = content_words(old)
    kept = subject & content_words(new)
    if subject and len(kept) < math.ceil(0.6 * len(subject)):
        return "lost the subject"
    return None


def content_words(text: str) -> set[str]:
    return {w for w in re.findall(r"\w+", text.lower()) if w not in _STOPWORDS and len(w) > 2}


def append_change(old: str, instruction: str) -> str:
    change = re.sub(r"^(make (it|this)|but|now|and)\s+", "", instruction, flags=re.IGNORECASE)
    return f"{old}, {change}" if old else change


def prompt_diff(old: str, new: str) -> str:
    """`prompt: +at sunset`, or the words taken out and put in: `prompt: -cat +dog`."""
    if old == new:
        return "prompt unchanged"
    if new.startswith(old):
        return "prompt: +" + new[len(old) :].strip(" ,;")
    before, after = old.split(), new.split()
    parts = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=before, b=after).get_opcodes():
        if tag in ("delete", "replace"):
            parts.append("-" + " ".join(before[i1:i2]))
        if tag in ("insert", "replace"):
            parts.append("+" + " ".join(after[j1:j2]))
    text = " ".join(parts)
    return "prompt: " + (text if len(text) <= 120 else text[:119] + "…")


# --- sizes and the image in focus --------------------------------------------------------------


def size_for(aspect: str, native: int) -> tuple[int, int]:
    """An aspect ratio at the model's native pixel count, each side a multiple of 64 (of 8 for
    models under 512 px): SDXL's 16:9 is 1344x768, sd-turbo's 1:1 is 512x512."""
    w, h = ASPECTS[aspect]
    scale = native / math.sqrt(w * h)
    step = 64 if native >= 512 else 8
    return _round_to(w * scale, step), _round_to(h * scale, step)


def fit_size(width: int, height: int, *, native: int) -> tuple[int, int]:
    """A picture's shape at the model's native pixel count, sides multiples of 8."""
    scale = native / math.sqrt(width * height)
    return _round_to(width * scale, 8), _round_to(height * scale, 8)


def upscaled_size(base: Base) -> tuple[int, int]:
    width, height = (_round_to(side * 2, 8) for side in base.image.size)
    if max(width, height) > MAX_UPSCALED_SIDE:
        raise ImageRefused(
            f"#{base.number} is {base.image.width}x{base.image.height}; twice that is over the "
            f"{MAX_UPSCALED_SIDE} px I upscale to. Nothing was stored."
        )
    return width, height


def _round_to(value: float, step: int) -> int:
    return max(step, int(round(value / step)) * step)


def _image_focus(focus: FocusArtifact | None) -> FocusArtifact | None:
    if focus is None or focus.kind is not ArtifactKind.IMAGE or focus.media_path is None:
        return None
    return focus


def base_of(focus: FocusArtifact, pick: int | None) -> Base:
    """The image in focus (one cell of it, for a grid) with the prompt and seed that made it.
    An upload has neither: its prompt is empty and a seed is drawn."""
    assert focus.media_path is not None
    params = focus.params
    with Image.open(focus.media_path) as opened:
        image = opened.convert("RGB")
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


def grid_cell(grid: Image.Image, cell: int, cols: int, width: int, height: int) -> Image.Image:
    col, row = (cell - 1) % cols, (cell - 1) // cols
    return grid.crop((col * width, row * height, (col + 1) * width, (row + 1) * height))


def make_grid(images: Sequence[Image.Image]) -> tuple[Image.Image, int]:
    """Images side by side (four as 2x2), and the number of columns."""
    cols = 2 if len(images) == 4 else len(images)
    rows = math.ceil(len(images) / cols)
    width, height = images[0].size
    grid = Image.new("RGB", (cols * width, rows * height), "white")
    for index, image in enumerate(images):
        grid.paste(image, ((index % cols) * width, (index // cols) * height))
    return grid, cols


# --- the result ----------------------------------------------------------------------------------


def to_draft(
    recipe: Recipe, images: list[Image.Image], loaded: LoadedImagePipeline
) -> ArtifactDraft:
    """The picture (a grid when several were made) and, for a grid, each image as a piece of
    its own with its own seed, so "a variation of #15" can name one of them."""
    seeds = recipe.render.seeds
    from_focus = recipe.base is not None or recipe.poem is not None
    picture, cols = make_grid(images) if len(images) > 1 else (images[0], 1)
    params = image_params(recipe, loaded, seeds)
    if len(images) > 1:
        params["grid"] = {"cols": cols, "rows": math.ceil(len(images) / cols)}
    singles = tuple(
        ArtifactDraft(
            ArtifactKind.IMAGE,
            media=Media(png_bytes(image, a1111_parameters(recipe, loaded, (seed,))), PNG),
            params={**image_params(recipe, loaded, (seed,)), "cell": cell},
            from_focus=from_focus,
        )
        for cell, (image, seed) in enumerate(zip(images, seeds, strict=True), start=1)
    )
    return ArtifactDraft(
        ArtifactKind.IMAGE,
        media=Media(png_bytes(picture, a1111_parameters(recipe, loaded, seeds)), PNG),
        params=params,
        from_focus=from_focus,
        note=describe(recipe, loaded),
        parts=singles if len(singles) > 1 else (),
    )


def image_params(
    recipe: Recipe, loaded: LoadedImagePipeline, seeds: Sequence[int]
) -> dict[str, Any]:
    job = recipe.render
    params: dict[str, Any] = {
        "model": loaded.spec,
        "mode": recipe.mode,
        "prompt": job.prompt,
        "negative_prompt": job.negative_prompt,
        "seed": seeds[0],
        "seeds": list(seeds),
        "steps": recipe.steps,
        "guidance": job.guidance,
        "sampler": loaded.sampler,
        "width": job.width,
        "height": job.height,
        "aspect": recipe.aspect,
        "count": len(seeds),
        "strength": None if recipe.base is None else job.strength,
    }
    if recipe.base is not None:
        params["from"] = {"number": recipe.base.number, "pick": recipe.base.pick}
    if recipe.poem is not None:
        params["poem"] = recipe.poem
    return params


def a1111_parameters(
    recipe: Recipe, loaded: LoadedImagePipeline, seeds: Sequence[int]
) -> GenerationParameters:
    job = recipe.render
    extra: dict[str, str] = {}
    if recipe.base is not None:
        extra["Denoising strength"] = f"{job.strength:g}"
    if len(seeds) > 1:
        extra["Batch size"] = str(len(seeds))  # seeds run on from Seed, as the web UI does
    return GenerationParameters(
        prompt=job.prompt,
        negative_prompt=job.negative_prompt,
        steps=job.steps,
        sampler=loaded.sampler,
        cfg_scale=job.guidance,
        seed=seeds[0],
        width=job.width,
        height=job.height,
        model=loaded.spec,
        extra=extra,
    )


def describe(recipe: Recipe, loaded: LoadedImagePipeline) -> str:
    """One line: what was made, or what changed from the image built on."""
    job = recipe.render
    seeds = job.seeds
    seed_text = f"seed {seeds[0]}" if len(seeds) == 1 else f"seeds {seeds[0]}–{seeds[-1]}"
    base = recipe.base
    if base is None:
        parts = [seed_text, f"{recipe.steps} steps", f"{job.width}x{job.height}", loaded.spec]
        if recipe.poem is not None:
            parts.insert(0, f"painted from the lines of #{recipe.poem}")
    else:
        old_seed = "none" if base.seed is None else str(base.seed)
        parts = [prompt_diff(base.prompt, job.prompt), f"seed {old_seed} → {seeds[0]}"]
        if len(seeds) > 1:
            parts[-1] += f"–{seeds[-1]}"
        parts.append(f"strength {job.strength:g}")
        if recipe.mode == "upscale":
            parts.insert(0, f"upscaled ×2 to {job.width}x{job.height}")
        if base.pick is not None:
            parts.append(f"from image {base.pick} of #{base.number}")
    if len(seeds) > 1:
        parts.append("pick=N chooses one to vary or upscale")
    return " · ".join([*parts, *recipe.notes])


def fresh_seed(avoid: int | None = None) -> int:
    while True:
        seed = secrets.randbelow(2**31 - 4)  # room for a grid's seed + 3
        if seed != avoid:
            return seed


def _guidance(args: ImageArgs, loaded: LoadedImagePipeline) -> float:
    return args.guidance if args.guidance is not None else loaded.defaults.guidance


# --- uploads -------------------------------------------------------------------------------------


def read_upload(data: bytes) -> Media:
    """An uploaded picture checked and kept as PNG (turned upright, flattened on white)."""
    if len(data) > MAX_UPLOAD_BYTES:
        raise UploadRejected(
            f"that file is {len(data) / 1024 / 1024:.1f} MiB; images up to 10 MiB are accepted"
        )
    try:
        with Image.open(io.BytesIO(data)) as opened:
            width, height = opened.size
            if max(width, height) > MAX_UPLOAD_SIDE:
                raise UploadRejected(
                    f"that image is {width}x{height} pixels; up to "
                    f"{MAX_UPLOAD_SIDE}x{MAX_UPLOAD_SIDE} are accepted"
                )
            opened.seek(0)  # the first frame of an animation
            image = ImageOps.exif_transpose(opened)
            image.load()
    except UploadRejected:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise UploadRejected(
            "that file is not an image I can read (PNG, JPEG, WebP, GIF or BMP)"
        ) from None
    buffer = io.BytesIO()
    _flatten(image).save(buffer, format="PNG")
    return Media(buffer.getvalue(), PNG)


def _flatten(image: Image.Image) -> Image.Image:
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, "white")
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def refine_by(instruction: str) -> ImageArgs:
    """Args that refine the image in focus by an instruction (a critique's suggestion)."""
    return ImageArgs(prompt=instruction, mode="refine")


IMAGE_TOOL = Tool(
    IMAGE.name,
    IMAGE.description,
    ArtifactKind.IMAGE,
    ImageArgs,
    make_image,
    examples=IMAGE.examples,
    also_serves=(IMAGE_FOR_A_POEM,),
    uploads=UploadReader(UPLOAD_TYPES, read_upload),
    revision=refine_by,
)
