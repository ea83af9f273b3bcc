"""The operator's caps on what one run makes: image pixels and audio seconds. A request over
a cap is told the cap in one line; the settings reach the tools through ToolContext.settings."""

from __future__ import annotations

import pytest

from agent.config import SettingsError, load_settings
from tools.contract import ToolContext
from tools.image.safety import ImageRefused
from tools.image.tool import ImageArgs, make_image
from tools.models.registry import ModelRegistry
from tools.music.durations import clamp_seconds
from tools.music.tool import MusicArgs, compose


def test_the_caps_reach_the_tools_and_cannot_be_raised_past_a_take() -> None:
    settings = load_settings(image_max_pixels=500_000, music_max_seconds=10)
    assert settings.tool_settings["image"]["max_pixels"] == 500_000
    assert settings.tool_settings["music"] == {"max_seconds": 10.0}
    with pytest.raises(SettingsError, match="ATELIER_MUSIC_MAX_SECONDS=45"):
        load_settings(music_max_seconds=45)


def test_a_grid_over_the_pixel_cap_is_refused_in_one_line(tiny_models: ModelRegistry) -> None:
    # The tiny model paints 32x32: four of them are 4,096 pixels, one is 1,024.
    capped = ToolContext(tiny_models, {"max_pixels": 2048})
    with pytest.raises(ImageRefused) as refused:
        make_image(ImageArgs(prompt="a harbour", count=4, seed=1), capped)
    said = str(refused.value)
    assert "\n" not in said
    assert said == (
        "4 pictures of 32x32 are 4,096 pixels; atelier renders at most 2,048 pixels per "
        "request here: ask for 2 at a time. Nothing was stored."
    )
    made = make_image(ImageArgs(prompt="a harbour", count=2, seed=1), capped)
    assert len(made.parts) == 2  # within the cap, the grid is made


def test_audio_over_the_seconds_cap_is_made_at_the_cap_with_a_note(
    tiny_models: ModelRegistry,
) -> None:
    capped = ToolContext(tiny_models, {"max_seconds": 1.0})
    made = compose(MusicArgs(description="rain on a tin roof", duration=3, seed=1), capped)
    assert made.params["duration"] == pytest.approx(1.0, abs=0.05)
    assert made.note is not None
    assert made.note.startswith("3 s is over the 1 s a clip may run here; made 1 s")


def test_an_extension_is_held_to_the_lower_of_the_cap_and_the_room_left() -> None:
    over = "20 s is over the 10 s a clip may run here; made 10 s"
    assert clamp_seconds(20, take=10) == (10, [over])
    assert clamp_seconds(20, take=10, room=4) == (4, ["a piece can run 120 s at most; added 4 s"])
    assert clamp_seconds(None, take=5) == (5, [])  # the default 8 s, held to the cap
