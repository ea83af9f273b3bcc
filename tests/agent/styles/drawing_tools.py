"""Test tools that draw on what the agent resolves besides the focus (ToolContext.sources,
personal_style, voice), each showing in what it makes exactly what it was handed.

`style` trains a "style" from its sources (at least 4, else the tool's one line), its
weights a file named "lora" made from the pictures' bytes; `paint` makes a picture whose bytes
depend on the trained style it was given; `ode` writes a poem listing the voice poems it was
shown; `recall` (a poem, so a text worker on NATS runs it) names all three at once.
"""

from __future__ import annotations

import hashlib

from pydantic import Field

from tools.contract import (
    ArtifactDraft,
    ArtifactKind,
    FocusArtifact,
    Media,
    Tool,
    ToolArgs,
    ToolContext,
    ToolRefused,
)

MIN_PICTURES = 4
LORA = "application/octet-stream"


class LearnArgs(ToolArgs):
    name: str = Field(description="the style's name", min_length=1, max_length=40)
    from_pieces: tuple[int, ...] = Field((), description="your pictures to learn from")


def _digest(pieces: tuple[FocusArtifact, ...]) -> bytes:
    hashed = hashlib.sha256()
    for piece in pieces:
        assert piece.media_path is not None
        hashed.update(piece.media_path.read_bytes())
    return hashed.digest()


def learn(args: LearnArgs, context: ToolContext) -> ArtifactDraft:
    pictures = context.sources
    if len(pictures) < MIN_PICTURES:
        raise ToolRefused(
            f"A style needs at least {MIN_PICTURES} of your pictures; it got {len(pictures)}. "
            "Nothing was stored."
        )
    return ArtifactDraft(
        ArtifactKind.STYLE,
        text=f"style {args.name}",
        params={"name": args.name, "sources": [piece.number for piece in pictures]},
        files={"lora": Media(_digest(pictures), LORA)},
    )


class PaintArgs(ToolArgs):
    prompt: str = Field(description="what to paint", min_length=1)
    style_name: str | None = Field(None, description="one of your trained styles")


def paint(args: PaintArgs, context: ToolContext) -> ArtifactDraft:
    style = context.personal_style
    weights = b"" if style is None else style.files["lora"].read_bytes()
    pixels = hashlib.sha256(args.prompt.encode() + weights).hexdigest()
    return ArtifactDraft(
        ArtifactKind.IMAGE,
        media=Media(pixels.encode(), "image/x-test"),
        params={"style": None if style is None else style.number},
    )


class OdeArgs(ToolArgs):
    prompt: str = Field(description="what the ode is about", min_length=1)
    voice: bool = Field(False, description="in your own voice: your poems as examples")


def ode(args: OdeArgs, context: ToolContext) -> ArtifactDraft:
    return ArtifactDraft(
        ArtifactKind.POEM, text=f"ode on {args.prompt}\n" + " | ".join(context.voice)
    )


class RecallArgs(ToolArgs):
    prompt: str = Field("", description="ignored")
    from_pieces: tuple[int, ...] = Field((), description="pieces to draw on")
    style_name: str | None = Field(None, description="one of your trained styles")
    voice: bool = Field(False, description="your poems")


def recall(args: RecallArgs, context: ToolContext) -> ArtifactDraft:
    style = context.personal_style
    said = [
        "sources " + " ".join(f"#{piece.number}" for piece in context.sources),
        "sources bytes " + _digest(context.sources).hex()[:16],
        "style " + ("none" if style is None else f"#{style.number}"),
        "lora " + ("none" if style is None else style.files["lora"].read_bytes().hex()[:16]),
        "voice " + " | ".join(context.voice),
    ]
    return ArtifactDraft(ArtifactKind.POEM, text="\n".join(said))


STYLE_TOOL = Tool(
    "style", "Train your style.", ArtifactKind.STYLE, LearnArgs, learn, text_arg="name"
)
PAINT = Tool("paint", "Paint a picture.", ArtifactKind.IMAGE, PaintArgs, paint)
ODE = Tool("ode", "Write an ode.", ArtifactKind.POEM, OdeArgs, ode)
RECALL = Tool("recall", "Recall what it draws on.", ArtifactKind.POEM, RecallArgs, recall)
