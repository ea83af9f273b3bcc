"""What a picture is described as before a poem or music is made from it. That the poem and the
clip are then made from the description, and name the picture, is their tools' tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from tools.contract import ArtifactKind, FocusArtifact, ToolContext, ToolRefused
from tools.from_image import NO_PICTURE, describe_picture
from tools.models.registry import ModelRegistry


def picture(tmp_path: Path, number: int, colour: tuple[int, int, int]) -> FocusArtifact:
    path = tmp_path / f"{number}.png"
    pixels = Image.new("RGB", (32, 32), colour)
    pixels.paste((255 - colour[0], 40, 200), (0, 0, 16, 32))
    pixels.save(path)
    return FocusArtifact(number, ArtifactKind.IMAGE, "a picture", None, path, "image/png", {})


def test_the_vision_model_describes_the_picture_it_is_shown(
    tmp_path: Path, tiny_models: ModelRegistry
) -> None:
    red, blue = picture(tmp_path, 3, (220, 10, 10)), picture(tmp_path, 4, (10, 10, 220))
    seen = [
        describe_picture(ToolContext(models=tiny_models, focus=one), seed=5)
        for one in (red, blue, red)
    ]
    assert [one.number for one in seen] == [3, 4, 3]
    assert all(one.description and "\n" not in one.description for one in seen)
    # The same picture and seed give the same words; another picture, others (the random
    # model sees the pixels, so what it writes follows them).
    assert seen[0].description == seen[2].description != seen[1].description


@pytest.mark.parametrize("kind", [None, ArtifactKind.POEM, ArtifactKind.MUSIC])
def test_without_a_picture_in_focus_it_says_so_in_one_line(kind: ArtifactKind | None) -> None:
    focus = None if kind is None else FocusArtifact(2, kind, "x", "words", None, None, {})
    with pytest.raises(ToolRefused, match="no picture in focus") as refused:
        describe_picture(ToolContext(focus=focus), seed=1)
    assert str(refused.value) == NO_PICTURE
