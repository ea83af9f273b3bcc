"""The style tool: a person's own style, a LoRA trained with peft on their own pictures
(tools/style/train.py) and kept as their STYLE piece, its weights the piece's file LORA_FILE
(tools/style/weights.py). The image tool applies it by name (`style_name`).

`/style train watercolor #3 #7 #9 #12` (the agent turns /style train into this tool's own
command, agent/styles/commands.py): the name is the free text, its #N the pictures
(tools/style/intents.py). The agent hands the run its sources, each the person's own: the
pictures named, those sent with the turn, or with none, their kept pictures
(agent/styles/resolution.py). At least MIN_PICTURES of them must be pictures.

Settings (ToolContext.settings, ATELIER_STYLE_*):
  style_steps        training steps (default 300 on a GPU, CPU_STEPS on a CPU)
  style_max_steps    the most steps a run may take (MAX_STEPS)
  style_max_seconds  the time cap (MAX_SECONDS): past it, one line and nothing stored
  style_seed         the seed (default: a random one; recorded in the params either way)
  style_learning_rate  AdamW's rate on the LoRA parameters (LEARNING_RATE)
"""

from __future__ import annotations

import io
import secrets
from collections.abc import Mapping, Sequence
from typing import Any

from PIL import Image, UnidentifiedImageError
from pydantic import Field, field_validator, model_validator

from tools.catalog import STYLE
from tools.contract import (
    ArtifactDraft,
    ArtifactKind,
    FocusArtifact,
    Tool,
    ToolArgs,
    ToolContext,
    ToolRefused,
)
from tools.image.loaded import LoadedImagePipeline
from tools.image.tool import MODEL_ROLE
from tools.style.intents import NAME_LIMIT, read_style_request, without_pieces
from tools.style.train import Trained, TrainingPlan, train_style
from tools.style.weights import LORA_FILE, weights_media

MIN_PICTURES = 4
GPU_STEPS = 300  # DreamBooth-LoRA's few hundred steps
CPU_STEPS = 40  # enough for the loss to fall on a small model without a GPU
MAX_STEPS = 1000
MAX_SECONDS = 1800.0
LEARNING_RATE = 1e-4  # DreamBooth-LoRA's usual rate for Stable Diffusion
ASK_FOR_NAME = (
    "What should the style be called? For example `/style train watercolor #3 #7 #9 #12`."
)


class StyleArgs(ToolArgs):
    name: str = Field(
        "", max_length=NAME_LIMIT, description="the style's name, one line (1-40 characters)"
    )
    from_pieces: tuple[int, ...] = Field(
        (), description="your pictures to learn from, as #N (default: your kept pictures)"
    )

    @model_validator(mode="before")
    @classmethod
    def _pieces_are_not_the_name(cls, data: Any) -> Any:
        # A name given with its pictures ("watercolor #3 #7", from a tool call) keeps only
        # its words; the pictures join from_pieces.
        if not isinstance(data, dict) or not isinstance(data.get("name"), str):
            return data
        named = read_style_request(data["name"]).get("from_pieces", ())
        if not named:
            return data
        pieces = tuple(data.get("from_pieces") or ())
        merged = pieces + tuple(n for n in named if n not in pieces)
        return {**data, "name": without_pieces(data["name"]), "from_pieces": merged}

    @field_validator("name")
    @classmethod
    def _one_line(cls, value: str) -> str:
        value = value.strip()
        if "\n" in value or "\r" in value:
            raise ValueError("a style's name is one line")
        return value

    @model_validator(mode="after")
    def _named(self) -> StyleArgs:
        if not self.name:
            raise ValueError(ASK_FOR_NAME)
        return self


def train(args: StyleArgs, context: ToolContext) -> ArtifactDraft:
    """The person's style learned from their pictures, or one line and nothing stored."""
    pictures = _pictures(context.sources)
    if len(pictures) < MIN_PICTURES:
        raise ToolRefused(
            f"A style needs at least {MIN_PICTURES} of your pictures; it got {len(pictures)}. "
            "Nothing was stored."
        )
    loaded: LoadedImagePipeline = context.models.get(MODEL_ROLE)
    plan = training_plan(args.name, context.settings, on_gpu=loaded.device.type == "cuda")
    context.progress(0.0, f"learning the style {args.name}")

    def on_step(done: int, total: int, seconds_per_step: float) -> None:
        left = round(seconds_per_step * (total - done))
        context.progress(done / total, f"step {done} of {total}, about {left} s left")

    trained = train_style(
        loaded, [image for _, image in pictures], plan, on_step=on_step, check=context.check
    )
    return _draft(args.name, [piece.number for piece, _ in pictures], plan, trained, loaded.spec)


def training_plan(name: str, settings: Mapping[str, Any], *, on_gpu: bool) -> TrainingPlan:
    ceiling = int(settings.get("style_max_steps") or MAX_STEPS)
    steps = int(settings.get("style_steps") or (GPU_STEPS if on_gpu else CPU_STEPS))
    return TrainingPlan(
        steps=max(1, min(steps, ceiling)),
        max_seconds=float(settings.get("style_max_seconds") or MAX_SECONDS),
        seed=int(settings.get("style_seed", secrets.randbelow(2**31))),
        instance_prompt=instance_prompt(name),
        learning_rate=float(settings.get("style_learning_rate") or LEARNING_RATE),
    )


def instance_prompt(name: str) -> str:
    return f"a picture in the style {name}"


def _pictures(sources: Sequence[FocusArtifact]) -> list[tuple[FocusArtifact, Image.Image]]:
    """The sources that are pictures with a file that opens as one, in order."""
    found = []
    for piece in sources:
        if piece.kind is not ArtifactKind.IMAGE or piece.media_path is None:
            continue
        try:
            image = Image.open(io.BytesIO(piece.media_path.read_bytes()))
            image.load()
        except (OSError, UnidentifiedImageError):
            continue
        found.append((piece, image))
    return found


def _draft(
    name: str, numbers: list[int], plan: TrainingPlan, trained: Trained, model: str
) -> ArtifactDraft:
    losses = trained.losses
    first, last = loss_ends(losses)
    learned_from = ", ".join(f"#{number}" for number in numbers)
    return ArtifactDraft(
        ArtifactKind.STYLE,
        text=f"style {name}: learned from {learned_from}",
        params={
            "name": name,
            "sources": numbers,
            "steps": len(losses),
            "rank": plan.rank,
            "alpha": plan.alpha,
            "seed": plan.seed,
            "learning_rate": plan.learning_rate,
            "loss_first": round(first, 6),
            "loss_last": round(last, 6),
            "instance_prompt": plan.instance_prompt,
            "model": model,
        },
        files={LORA_FILE: weights_media(trained.weights)},
        note=f"{len(losses)} steps on {len(numbers)} pictures; loss {first:.4f} -> {last:.4f}",
    )


def loss_ends(losses: Sequence[float]) -> tuple[float, float]:
    """The loss at the start and at the end, each the mean of a few steps: one step's loss
    swings with its random timesteps more than training moves it."""
    few = max(1, min(5, len(losses) // 4))
    return sum(losses[:few]) / few, sum(losses[-few:]) / few


STYLE_TOOL = Tool(
    STYLE.name,
    STYLE.description,
    ArtifactKind.STYLE,
    StyleArgs,
    train,
    text_arg="name",
    timeout_s=MAX_SECONDS + 300.0,  # the time cap answers first, in its own line
    examples=STYLE.examples,
    reads=read_style_request,
)
