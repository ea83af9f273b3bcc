"""A cover picture for the clip in focus (image mode "cover", tools/from_music.py): painted
from the clip's description and what the person adds, stored as a new picture made from the
clip; without a clip in focus, one line and nothing made."""

from __future__ import annotations

import pytest

from tests.support.studio_tools import HUM
from tests.support.workshop import MakeWorkshop
from tools.contract import ArtifactKind, FocusArtifact, ToolContext, ToolRefused
from tools.from_music import NO_CLIP
from tools.image.tool import IMAGE_TOOL, ImageArgs, make_image
from tools.models.registry import ModelRegistry

RAINY = FocusArtifact(
    number=9,
    kind=ArtifactKind.MUSIC,
    prompt="something for a rainy night",
    text="rainy night piano",
    media_path=None,
    mime_type="audio/ogg",
    params={"description": "rainy night piano", "seed": 3, "duration": 8.0, "mode": "new"},
)


def test_a_cover_is_painted_from_the_clips_description(tiny_models: ModelRegistry) -> None:
    context = ToolContext(tiny_models, focus=RAINY)
    made = make_image(ImageArgs(mode="cover", prompt="in watercolor", seed=4), context)
    assert made.kind is ArtifactKind.IMAGE and made.media is not None
    assert made.params["prompt"] == "rainy night piano, in watercolor"
    assert (made.params["mode"], made.params["cover_of"]) == ("cover", 9)
    assert made.from_focus and not made.focus_is_source
    assert made.note is not None and made.note.startswith("a cover for #9 · seed 4")


def test_without_a_clip_in_focus_the_cover_is_refused_in_one_line(
    tiny_models: ModelRegistry,
) -> None:
    poem = FocusArtifact(2, ArtifactKind.POEM, "", "a heron at dawn", None, None, {})
    for focus in (None, poem):
        with pytest.raises(ToolRefused) as refused:
            make_image(ImageArgs(mode="cover"), ToolContext(tiny_models, focus=focus))
        assert str(refused.value) == NO_CLIP
    upload = FocusArtifact(5, ArtifactKind.MUSIC, "", None, None, "audio/ogg", {"upload": "a.ogg"})
    with pytest.raises(ToolRefused, match="#5 has no description to paint a cover from"):
        make_image(ImageArgs(mode="cover"), ToolContext(tiny_models, focus=upload))


async def test_through_the_agent_a_cover_is_made_from_the_clip(
    make_studio: MakeWorkshop, tiny_models: ModelRegistry
) -> None:
    studio = make_studio([HUM, IMAGE_TOOL], models=tiny_models)
    refused = await studio.command("/image make a picture for this music")
    assert refused.text == NO_CLIP and await studio.artifacts() == []
    await studio.command("/hum a tune")
    reply = await studio.command("/image seed=2 为这段音乐画一张封面")
    clip, cover = await studio.artifacts()
    # A new picture of its own (version 1 of its own tree) whose parent is the clip.
    assert (cover.kind, cover.parent_id, cover.root_id, cover.version) == (
        "image",
        clip.id,
        None,
        1,
    )
    assert cover.params["cover_of"] == clip.id
    assert cover.params["prompt"] == clip.text
    assert reply.text.startswith(f"a cover for #{clip.id} · seed 2")
    shown = await studio.command(f"/show #{cover.id}")
    assert f"#{cover.id} image (version 1, made from #{clip.id})" in shown.text
