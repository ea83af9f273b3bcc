"""Image measures on synthetic pictures whose answers are known."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from tools.critique.image_measures import advice, colourfulness_label, describe, measure

BARS = [(255, 255, 255), (255, 255, 0), (0, 255, 255), (0, 255, 0)]
BARS += [(255, 0, 255), (255, 0, 0), (0, 0, 255), (0, 0, 0)]


def colour_bars(width: int = 320, height: int = 180) -> Image.Image:
    """SMPTE-style colour bars: white, yellow, cyan, green, magenta, red, blue, black."""
    pixels = np.zeros((height, width, 3), dtype=np.uint8)
    for index, colour in enumerate(BARS):
        pixels[:, index * width // 8 : (index + 1) * width // 8] = colour
    return Image.fromarray(pixels)


def dot_at(x: float, y: float, size: int = 300) -> Image.Image:
    """A bright disc on grey, centred at (x, y) in frame units."""
    yy, xx = np.mgrid[0:size, 0:size] / size
    disc = (xx - x) ** 2 + (yy - y) ** 2 < 0.05**2
    pixels = np.full((size, size, 3), 90, dtype=np.uint8)
    pixels[disc] = (250, 200, 40)
    return Image.fromarray(pixels)


def test_a_flat_black_image_has_less_contrast_and_colour_than_colour_bars() -> None:
    black, bars = measure(Image.new("RGB", (320, 180))), measure(colour_bars())
    assert black.contrast < bars.contrast and black.colourfulness < bars.colourfulness
    assert (black.contrast, black.colourfulness, black.brightness) == (0.0, 0.0, 0.0)
    assert bars.contrast > 0.25 and bars.colourfulness_label == "extremely colourful"


def test_grey_is_not_colourful_and_a_pure_colour_field_is_only_mildly_so() -> None:
    """Hasler-Süsstrunk weighs colour spread over hue: one flat red has no spread."""
    grey = measure(Image.new("RGB", (64, 64), (128, 128, 128)))
    red = measure(Image.new("RGB", (64, 64), (200, 30, 30)))
    assert grey.colourfulness == 0.0 and colourfulness_label(grey.colourfulness) == "not colourful"
    assert 0 < red.colourfulness < measure(colour_bars()).colourfulness


def test_brightness_follows_the_grey_level() -> None:
    levels = [measure(Image.new("L", (32, 32), value)).brightness for value in (0, 64, 128, 255)]
    assert levels == sorted(levels) and levels[0] == 0.0 and levels[-1] == pytest.approx(1.0)


def test_a_subject_on_a_thirds_point_is_placed_there_and_a_flat_field_has_none() -> None:
    on_thirds = measure(dot_at(2 / 3, 1 / 3)).composition
    centred = measure(dot_at(0.5, 0.5)).composition
    corner = measure(dot_at(0.12, 0.88)).composition
    assert on_thirds is not None and centred is not None and corner is not None
    assert on_thirds.placement == "on a rule-of-thirds point"
    assert on_thirds.weight_x == pytest.approx(2 / 3, abs=0.02)
    assert on_thirds.weight_y == pytest.approx(1 / 3, abs=0.02)
    assert centred.placement == "centred" and centred.balance > corner.balance
    assert corner.placement == "off both the thirds points and the centre"
    assert measure(Image.new("RGB", (64, 64), (10, 80, 10))).composition is None


def test_advice_quotes_the_figures_and_always_offers_two_actions() -> None:
    black = measure(Image.new("RGB", (64, 64)))
    actions = advice(black)
    assert any("contrast is only 0.00" in action for action in actions)
    assert any("flat field" in action for action in actions)
    for picture in (colour_bars(), dot_at(2 / 3, 1 / 3), Image.new("RGB", (8, 8), (9, 9, 9))):
        assert len(advice(measure(picture))) >= 2
    assert describe(black)[-1] == "composition: a flat field, no detail or edges to place"


def test_measures_do_not_depend_on_resolution() -> None:
    small, large = measure(colour_bars(160, 90)), measure(colour_bars(1280, 720))
    assert small.contrast == pytest.approx(large.contrast, abs=0.01)
    assert small.colourfulness == pytest.approx(large.colourfulness, rel=0.02)
