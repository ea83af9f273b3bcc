"""A person's taste in pictures, applied: a new picture whose request leaves the style and the
aspect open takes what most of their kept pictures share, and the note says so; a request's
own style or aspect wins; a variation follows the image in focus and takes none."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support.workshop import MakeWorkshop
from tools.contract import ArtifactKind, FocusArtifact, ToolContext
from tools.image.sizes import size_for
from tools.image.taste import ImageTaste, applied_taste, tasted_fields
from tools.image.tool import IMAGE_TOOL, ImageArgs, make_image
from tools.models.registry import ModelRegistry

KEPT: tuple[dict[str, Any], ...] = (
    {"prompt": "a fox in snow, watercolor", "aspect": "3:2"},
    {"prompt": "a harbour at dawn, watercolor", "aspect": "3:2"},
    {"prompt": "an old pine on a cliff, watercolor", "aspect": "3:2"},
)
TASTE_NOTE = "from your kept pictures: watercolor, 3:2"


@pytest.fixture
def tasteful(tiny_models: ModelRegistry) -> ToolContext:
    return ToolContext(tiny_models, kept=KEPT)


def test_a_new_picture_takes_the_kept_pictures_style_and_aspect(
    tasteful: ToolContext, tiny_models: ModelRegistry
) -> None:
    made = make_image(ImageArgs(prompt="a lighthouse", seed=5), tasteful)
    assert made.params["prompt"] == "a lighthouse, watercolor"
    assert made.params["aspect"] == "3:2"
    native = tiny_models.get("image").defaults.native
    assert (made.params["width"], made.params["height"]) == size_for("3:2", native)
    assert made.params["taste"] == {"style": "watercolor", "aspect": "3:2"}
    assert made.note is not None and made.note.startswith(TASTE_NOTE + " · seed 5")


def test_the_requests_own_style_and_aspect_are_kept(tasteful: ToolContext) -> None:
    made = make_image(
        ImageArgs(prompt="a lighthouse, pencil sketch", aspect="1:1", seed=5), tasteful
    )
    assert (made.params["prompt"], made.params["aspect"]) == ("a lighthouse, pencil sketch", "1:1")
    assert "taste" not in made.params and "kept pictures" not in (made.note or "")


def test_a_variation_takes_no_taste(tasteful: ToolContext, tmp_path: Path) -> None:
    made = make_image(ImageArgs(prompt="a harbour", seed=2), ToolContext(tasteful.models))
    assert made.media is not None
    path = tmp_path / "harbour.png"
    path.write_bytes(made.media.data)
    focus = FocusArtifact(1, ArtifactKind.IMAGE, "a harbour", None, path, "image/png", made.params)
    varied = make_image(
        ImageArgs(mode="vary"), ToolContext(tasteful.models, kept=KEPT, focus=focus)
    )
    assert varied.params["prompt"] == "a harbour" and "taste" not in varied.params
    assert (varied.params["width"], varied.params["height"]) == (
        made.params["width"],
        made.params["height"],
    )
    assert "kept pictures" not in (varied.note or "")


def test_a_picture_of_a_poem_takes_the_style_only_when_none_is_asked(
    tasteful: ToolContext,
) -> None:
    poem = FocusArtifact(4, ArtifactKind.POEM, "", "a heron at dawn", None, None, {})
    context = ToolContext(tasteful.models, kept=KEPT, focus=poem)
    plain = make_image(ImageArgs(mode="illustrate", seed=1), context)
    assert (plain.params["prompt"], plain.params["aspect"]) == (
        "a heron at dawn, watercolor",
        "3:2",
    )
    inked = make_image(ImageArgs(mode="illustrate", prompt="illustrate it in ink", seed=1), context)
    assert inked.params["prompt"] == "a heron at dawn, ink"
    assert inked.params["taste"] == {"aspect": "3:2"}


def test_a_sessions_shared_style_decides_the_style_words(tasteful: ToolContext) -> None:
    context = ToolContext(tasteful.models, kept=KEPT, style="ink")
    made = make_image(ImageArgs(prompt="a lighthouse", seed=5), context)
    assert made.params["prompt"] == "a lighthouse, ink"
    assert made.params["taste"] == {"aspect": "3:2"}


async def test_through_the_agent_kept_pictures_shape_the_next_one(
    make_studio: MakeWorkshop, tiny_models: ModelRegistry
) -> None:
    studio = make_studio([IMAGE_TOOL], models=tiny_models)
    for subject in ("a fox in snow", "a harbour at dawn", "an old pine"):
        await studio.command(f"/image aspect=3:2 seed=1 {subject}, watercolor")
    for number in (1, 2, 3):
        await studio.command(f"/keep #{number}")
    reply = await studio.command("/image a lighthouse on a rock")
    lighthouse = (await studio.artifacts())[-1]
    assert lighthouse.params["prompt"] == "a lighthouse on a rock, watercolor"
    assert lighthouse.params["aspect"] == "3:2"
    assert lighthouse.params["taste"]["style"] == "watercolor"
    assert reply.text.startswith(TASTE_NOTE)


def test_a_style_the_prompt_already_names_is_not_said_to_be_applied() -> None:
    taste = ImageTaste(style="watercolor", aspect="3:2")
    update = tasted_fields("a fox in watercolor", ("aspect",), taste)
    assert update == {} and not applied_taste(update, taste)
    # A poem's or a clip's prompt says nothing of the person's style: they decide.
    assert tasted_fields("rainy night piano", (), taste, style_said=True) == {"aspect": "3:2"}
