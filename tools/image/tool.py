"""The image tool: pictures from descriptions, pictures of the poem in focus, and variations,
refinements and upscales of the image in focus, on a local diffusion model.

The operation is `mode` (a button's or an option's field, or what the request's words say,
read once by tools/image/intents.py); without one, a new picture:
  new         text-to-image (or a grid of up to four) at one of five aspect ratios, sized for
              the model's native resolution
  illustrate  a new picture of the poem in focus, painted from its lines and the style the
              prompt names at its end (tools/from_poem.py), as a piece made from the poem
  cover       a new picture for the clip in focus, painted from its description and what the
              request adds (tools/from_music.py), as a piece made from the clip
  styled      a new picture in the style of the image in focus (an upload, or #N: the
              `style_image` option), through the IP-Adapter at `style_strength`
              (tools/image/ip_adapter.py), as a piece made from the reference
and, image-to-image on the same weights, from the image in focus (one the bot made, or an
upload):
  vary        the same prompt, a new seed (changed by the prompt, when one is given)
  refine      the prompt rewritten by the chat model to apply the instruction, the same seed
  upscale     twice the size (Lanczos), then a light image-to-image pass
Each result says what changed in one line (`prompt: +at sunset · seed 7 → 7 · strength 0.55`)
and carries its parameters in the PNG, as AUTOMATIC1111 writes them (tools/image/draft.py).

New pictures (new, illustrate, cover) take the person's taste where the request leaves it
open: the style words, aspect and guidance most of their kept pictures share
(tools/image/taste.py), said in the note and recorded as the params' "taste".

Any of them may wear the person's own trained style (`style_name`: the STYLE piece the agent
resolved, ToolContext.personal_style), its LoRA on the UNet for that render only
(tools/image/personal_style.py), recorded as the params' "style_name" and "style_piece". It
goes with a style picture too: the LoRA changes the UNet's projections, the IP-Adapter adds
the picture's tokens beside the prompt's, and both are recorded.

The seed is drawn when not given and always recorded: the same arguments, seed and model give
the same PNG bytes on the same device. What is refused, and why, is tools/image/safety.py.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from PIL import Image
from pydantic import Field, field_validator, model_validator

from tools.catalog import IMAGE, IMAGE_FOR_A_POEM
from tools.contract import (
    MAX_PIECE_NUMBER,
    ArtifactDraft,
    ArtifactKind,
    FocusArtifact,
    Tool,
    ToolArgs,
    ToolContext,
    in_style,
    piece_number_as_typed,
)
from tools.from_music import clip_in_focus, cover_prompt
from tools.from_poem import picture_prompt
from tools.image.batching import render_work
from tools.image.decoders import decoder_use, uses_tiny
from tools.image.draft import to_draft
from tools.image.intents import read_image_request
from tools.image.ip_adapter import unavailable
from tools.image.loaded import LoadedImagePipeline
from tools.image.memory import MemoryOptions
from tools.image.personal_style import PersonalStyle, check_fits, prompted, style_to_apply
from tools.image.recipes import (
    Mode,
    Recipe,
    base_in_focus,
    focus_recipe,
    new_recipe,
    poem_in_focus,
    reference_in_focus,
)
from tools.image.safety import SafetyPolicy, check_outputs, minors_refusal
from tools.image.sizes import ASPECTS, check_pixels
from tools.image.taste import ImageTaste, applied_taste, image_taste, tasted_fields
from tools.image.uploads import IMAGE_UPLOADS

MODEL_ROLE = "image"
# Modes that start from the image in focus rather than from a prompt.
FOCUS_MODES: tuple[Mode, ...] = ("vary", "refine", "upscale")
# Modes with something to go on besides the prompt: the image, poem or clip in focus.
PROMPT_OPTIONAL: tuple[Mode, ...] = ("vary", "upscale", "illustrate", "styled", "cover")
# Modes that make a new picture, which the person's kept pictures lend their defaults to.
TASTED_MODES: tuple[Mode, ...] = ("new", "illustrate", "cover")
ASK_FOR_PROMPT = (
    "What should the image be about? Say what it should show, for example "
    "`/image a lighthouse in fog`."
)
ASK_FOR_CHANGE = "Say how to change the image in focus, for example `/image mode=refine darker`."


class ImageArgs(ToolArgs):
    prompt: str = Field(
        "",
        description="what to show, or how to change the image in focus (may be left out to "
        "vary, upscale or illustrate)",
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
        description="new, vary, refine or upscale (the image in focus), illustrate (the "
        "poem in focus), styled (a new picture in the style of the image in focus), or cover "
        "(a picture for the clip in focus); default: new",
    )
    style_image: int | None = Field(
        None,
        ge=1,
        le=MAX_PIECE_NUMBER,
        description="a picture to take the style from, as #N (or attach one)",
    )
    style_strength: float | None = Field(
        None, ge=0.0, le=1.0, description="how strongly the style picture steers (0.6)"
    )
    pick: int | None = Field(
        None, ge=1, le=4, description="which image of a grid in focus to build on"
    )
    style_name: str | None = Field(
        None, max_length=100, description="your trained style, by the name you gave it"
    )

    @field_validator("style_name")
    @classmethod
    def _named_style(cls, value: str | None) -> str | None:
        # An empty option names no style, rather than one called "".
        return None if value is None else value.strip() or None

    @field_validator("style_image", mode="before")
    @classmethod
    def _style_number(cls, value: Any) -> Any:
        return piece_number_as_typed(value)

    @model_validator(mode="before")
    @classmethod
    def _style_image_is_the_piece(cls, data: Any) -> Any:
        # The style picture is the piece the agent puts in focus: `style_image:#12` is
        # `piece=12` in styled mode.
        if not isinstance(data, dict) or data.get("style_image") in (None, ""):
            return data
        number = piece_number_as_typed(str(data["style_image"]))
        piece = data.get("piece")
        if piece not in (None, "") and piece_number_as_typed(str(piece)) != number:
            raise ValueError("name one picture: style_image and piece differ")
        if data.get("mode") not in (None, "styled"):
            raise ValueError(f"style_image makes a new picture; it cannot {data['mode']}")
        return {**data, "piece": number, "mode": "styled"}

    @field_validator("prompt")
    @classmethod
    def _nothing_refused(cls, value: str) -> str:
        value = value.strip()
        refusal = minors_refusal(value)
        if refusal is not None:
            raise ValueError(refusal)
        return value

    @model_validator(mode="after")
    def _something_to_go_on(self) -> ImageArgs:
        # A variation, an upscale or a picture of a poem has a source to work from; a new
        # picture needs a description and a refinement an instruction.
        if self.prompt or self.mode in PROMPT_OPTIONAL:
            return self
        raise ValueError(ASK_FOR_CHANGE if self.mode == "refine" else ASK_FOR_PROMPT)

    @field_validator("aspect")
    @classmethod
    def _supported_aspect(cls, value: str) -> str:
        normal = re.sub(r"\s*[x/×]\s*", ":", value.strip())
        if normal not in ASPECTS:
            raise ValueError(
                f"aspect ratio {value} is not supported; choose one of {', '.join(ASPECTS)}"
            )
        return normal


def make_image(args: ImageArgs, context: ToolContext) -> ArtifactDraft:
    """The picture asked for: what it starts from, its recipe, the render, the safety checker
    when it is on, and the draft to store."""
    context.check()
    mode = choose_mode(args)
    policy = SafetyPolicy.from_settings(context.settings)
    # The trained style asked for, its weights read here, in this worker thread.
    style = style_to_apply(context.personal_style, args.style_name) if args.style_name else None
    # 1. What it starts from: the image in focus, or a prompt (for a picture of a poem, the
    #    poem's lines; for a cover, the clip's description), checked before any model is
    #    loaded; a new picture takes the person's taste where the request leaves it open.
    poem = poem_in_focus(context.focus) if mode == "illustrate" else None
    clip = clip_in_focus(context.focus) if mode == "cover" else None
    args, style_said = painted_from(args, poem, clip)
    taste = ImageTaste()
    if mode in TASTED_MODES:
        # A trained style worn is a style named: the taste's style words stay out.
        args, taste = with_taste(args, context, True if style else style_said)
    base = base_in_focus(context.focus, args.pick) if mode in FOCUS_MODES else None
    reference = reference_in_focus(context.focus, args.pick) if mode == "styled" else None
    ip_adapter = context.settings.get("ip_adapter") if reference is not None else None
    if reference is not None and not ip_adapter:
        raise unavailable(None)  # before any model is loaded
    if base is None:
        args = args.model_copy(update={"prompt": in_style(args.prompt, context.style)})
        policy.check_prompt(args.prompt)
    # 2. The recipe: everything the run needs; a refinement's prompt is rewritten here.
    loaded: LoadedImagePipeline = context.models.get(MODEL_ROLE)
    if base is None:
        poem_number = None if poem is None else poem.number
        recipe = new_recipe(args, loaded, mode, poem_number, reference, ip_adapter)
        recipe = replace(recipe, cover_of=None if clip is None else clip.number, taste=taste)
    else:
        recipe = focus_recipe(args, mode, base, loaded, context)
        policy.check_prompt(recipe.render.prompt)
    recipe = with_decoder(recipe, loaded, context.settings)
    recipe = wearing_style(recipe, style, loaded)
    job = recipe.render  # within the operator's pixel cap before anything is rendered
    check_pixels(job.width, job.height, len(job.seeds), context.settings)
    # 3. The render, and 4. the safety checker on what it made.
    images = run_recipe(loaded, recipe, context, MemoryOptions.from_settings(context.settings))
    if policy.safety_checker:
        with loaded.lock:
            check_outputs(loaded.output_checker(policy.checker_model), images)
    # 5. The draft: the PNG with its parameters, and the note.
    context.check()
    context.progress(0.95, "saving")
    return to_draft(recipe, images, loaded)


def painted_from(
    args: ImageArgs, poem: FocusArtifact | None, clip: FocusArtifact | None
) -> tuple[ImageArgs, bool | None]:
    """For a picture of a poem or a cover for a clip, the prompt made from its source, and
    whether the person named a style of their own (a poem's: the style the request ends with;
    a cover's: any words they added). None for a new picture, whose prompt is their own."""
    if poem is not None:
        prompt = picture_prompt(poem, args.prompt)
        return args.model_copy(update={"prompt": prompt}), prompt != picture_prompt(poem, "")
    if clip is not None:
        prompt = cover_prompt(clip, args.prompt)
        return args.model_copy(update={"prompt": prompt}), bool(args.prompt)
    return args, None


def with_taste(
    args: ImageArgs, context: ToolContext, style_said: bool | None
) -> tuple[ImageArgs, ImageTaste]:
    """The args with the defaults the person's kept pictures lend, where the request left
    them open, and what was applied. A session's shared style decides the style words."""
    taste = image_taste(context.kept)
    if context.style:
        taste = replace(taste, style=None)
    update = tasted_fields(args.prompt, args.model_fields_set, taste, style_said)
    return args.model_copy(update=update), applied_taste(update, taste)


def wearing_style(
    recipe: Recipe, style: PersonalStyle | None, loaded: LoadedImagePipeline
) -> Recipe:
    """The recipe's render with the person's trained style on, once it is known to fit
    the model loaded, its prompt ending with the words the style answers to; else as it
    was."""
    if style is None:
        return recipe
    check_fits(style, loaded.spec)
    prompt = prompted(recipe.render.prompt, style)
    return replace(recipe, render=replace(recipe.render, style=style, prompt=prompt))


def with_decoder(
    recipe: Recipe, loaded: LoadedImagePipeline, settings: Mapping[str, Any]
) -> Recipe:
    """The recipe decoded by the tiny decoder where one is loaded and the settings' use
    takes in this run (tools/image/decoders.py); else as it was, by the full VAE."""
    pictures = len(recipe.render.seeds)
    if loaded.decoder is None or not uses_tiny(decoder_use(settings), pictures):
        return recipe
    return replace(recipe, render=replace(recipe.render, tiny_decoder=True))


def choose_mode(args: ImageArgs) -> Mode:
    """The operation asked for; the words were read before the args were made."""
    return args.mode if args.mode is not None else "new"


def run_recipe(
    loaded: LoadedImagePipeline, recipe: Recipe, context: ToolContext, memory: MemoryOptions
) -> list[Image.Image]:
    job = recipe.render

    def after_step(done: int, total: int) -> None:
        context.progress(0.05 + 0.85 * done / max(total, 1), f"step {done}/{total}")
        context.check()  # raises Cancelled: the run stops between two steps

    context.check()
    # Through the scheduler: batched with other people's renders of the same shape.
    return context.schedule(render_work(loaded, job, memory, after_step))


def refine_by(instruction: str) -> ImageArgs:
    """Args that refine the image in focus by an instruction (a critique's suggestion)."""
    return ImageArgs(mode="refine", prompt=instruction)


IMAGE_TOOL = Tool(
    IMAGE.name,
    IMAGE.description,
    ArtifactKind.IMAGE,
    ImageArgs,
    make_image,
    examples=IMAGE.examples,
    also_serves=(IMAGE_FOR_A_POEM,),
    uploads=IMAGE_UPLOADS,
    revision=refine_by,
    variation={"mode": "vary"},
    from_poem={"mode": "illustrate"},
    reads=read_image_request,
)
