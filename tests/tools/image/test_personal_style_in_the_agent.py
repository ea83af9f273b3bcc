"""A trained style worn through the agent: four pictures train `watercolor` with the real
STYLE tool (a few steps on the tiny image model), then `/image style_name=watercolor ...` and
"a fox in my watercolor style" make pictures whose params name the style and its piece, and
someone else naming it is told in one line that they have no such style."""

from __future__ import annotations

import io
from dataclasses import replace
from typing import Any

from PIL import Image

from agent.types import Attachment
from tests.support.workshop import MakeWorkshop
from tools.contract import ArtifactDraft, ToolContext
from tools.image.tool import IMAGE_TOOL
from tools.models.registry import ModelRegistry
from tools.style.tool import STYLE_TOOL, train

# The workshop hands tools no settings: a few seeded steps keep the training short.
FEW_STEPS = {"style_steps": 3, "style_seed": 2}


def few_steps(args: Any, context: ToolContext) -> ArtifactDraft:
    return train(args, replace(context, settings={**context.settings, **FEW_STEPS}))


def picture(shade: int) -> Attachment:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 40), (shade, 255 - shade, 120)).save(buffer, format="PNG")
    return Attachment(f"scan-{shade}.png", "image/png", buffer.getvalue())


async def test_a_trained_style_is_worn_by_option_and_by_words_and_only_by_its_owner(
    make_studio: MakeWorkshop, tiny_models: ModelRegistry
) -> None:
    studio = make_studio([IMAGE_TOOL, replace(STYLE_TOOL, run=few_steps)], models=tiny_models)
    sent = [picture(shade) for shade in (10, 70, 130, 190)]
    await studio.command("/style train watercolor", attachments=sent)
    [style] = [piece for piece in await studio.artifacts() if piece.kind == "style"]

    by_option = await studio.command("/image seed=3 style_name=watercolor a fox")
    by_words = await studio.command("/image seed=3 a fox in my Watercolor style")
    made = [piece for piece in await studio.artifacts() if piece.kind == "image"][-2:]
    for piece, reply in zip(made, (by_option, by_words), strict=True):
        assert (piece.params["style_name"], piece.params["style_piece"]) == (
            "watercolor",
            style.id,
        )
        assert piece.params["prompt"].startswith("a fox")
        assert f"in your style 'watercolor' (#{style.id})" in reply.text
        # A style is not the piece built on: each picture starts a tree of its own.
        assert (piece.parent_id, piece.version) == (None, 1)

    refused = await studio.command("/image a fox in my watercolor style", user="bob")
    assert refused.text.startswith("You have no style named 'watercolor'")
    assert "\n" not in refused.text and not refused.artifacts
