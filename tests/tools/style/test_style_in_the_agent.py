"""The real style tool through the agent: four pictures sent with `/style train watercolor`
train a LoRA on the tiny image model, kept as the person's STYLE piece with its weights file;
the weights read back from the media dir, and `/style delete` takes the file away."""

from __future__ import annotations

import io
from dataclasses import replace
from typing import Any

from PIL import Image

from agent.types import Attachment
from tests.support.threads import one_thread  # noqa: F401 - autouse
from tests.support.workshop import MakeWorkshop
from tools.contract import ArtifactDraft, ToolContext
from tools.image.tool import IMAGE_TOOL
from tools.models.registry import ModelRegistry
from tools.style.tool import STYLE_TOOL, train
from tools.style.weights import LORA_FILE, read_weights

# The workshop hands tools no settings: a few seeded steps keep the run short.
FEW_STEPS = {"style_steps": 3, "style_seed": 2}


def few_steps(args: Any, context: ToolContext) -> ArtifactDraft:
    return train(args, replace(context, settings={**context.settings, **FEW_STEPS}))


def picture(shade: int) -> Attachment:
    image = Image.new("RGB", (40, 40), (shade, 255 - shade, 120))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return Attachment(f"scan-{shade}.png", "image/png", buffer.getvalue())


async def test_a_style_trained_through_the_agent_is_kept_and_deleted_with_its_weights(
    make_studio: MakeWorkshop, tiny_models: ModelRegistry
) -> None:
    studio = make_studio([IMAGE_TOOL, replace(STYLE_TOOL, run=few_steps)], models=tiny_models)
    sent = [picture(shade) for shade in (10, 70, 130, 190)]
    reply = await studio.command("/style train watercolor", attachments=sent)
    pieces = await studio.artifacts()
    uploads = [piece.id for piece in pieces if piece.kind == "image"]
    [style] = [piece for piece in pieces if piece.kind == "style"]
    assert reply.artifacts[0].number == style.id, reply.text
    assert style.params["name"] == "watercolor" and style.params["sources"] == uploads
    assert style.params["steps"] == 3 and len(uploads) == 4
    [lora] = style.files
    assert lora.name == LORA_FILE
    stored = studio.media.path(lora.path)
    weights = read_weights(stored)  # what a restarted atelier reads
    assert weights.targets == ("to_q", "to_k", "to_v", "to_out.0") and weights.tensors

    deleted = await studio.command("/style delete watercolor")
    assert deleted.text.startswith("Deleted your style 'watercolor'")
    assert not stored.exists()
    assert [piece.kind for piece in await studio.artifacts()] == ["image"] * 4
