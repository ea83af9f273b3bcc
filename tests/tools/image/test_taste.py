"""What a person's kept pictures lend a new picture: only what most of them share, and only
where the request leaves it open."""

from __future__ import annotations

from tools.image.taste import ImageTaste, image_taste, style_words, tasted_fields

WATERCOLOURS = (
    {"prompt": "a fox in snow, watercolor", "aspect": "3:2", "guidance": 6.0},
    {"prompt": "a harbour at dawn, watercolor", "aspect": "3:2", "guidance": 7.0},
    {"prompt": "an old tree, ink drawing", "aspect": "1:1", "guidance": 8.0},
)


def test_what_most_kept_pictures_share_becomes_the_default() -> None:
    taste = image_taste(WATERCOLOURS)
    assert taste == ImageTaste(style="watercolor", aspect="3:2", guidance=7.0)
    assert taste.words() == "watercolor, 3:2, guidance 7"


def test_what_only_some_share_is_not_taste() -> None:
    split = ({"prompt": "a, oil painting", "aspect": "16:9"}, {"prompt": "b, ink", "aspect": "1:1"})
    assert image_taste(split) == ImageTaste()
    assert image_taste(()) == ImageTaste()


def test_the_request_wins_over_the_taste() -> None:
    taste = ImageTaste(style="watercolor", aspect="3:2", guidance=7.0)
    assert tasted_fields("a lighthouse", (), taste) == {
        "prompt": "a lighthouse, watercolor",
        "aspect": "3:2",
        "guidance": 7.0,
    }
    # A style of its own, an aspect and a guidance asked for: nothing is changed.
    assert tasted_fields("a lighthouse, pencil sketch", ("aspect", "guidance"), taste) == {}


def test_a_style_is_the_short_last_part_of_a_prompt() -> None:
    assert style_words("a lighthouse at dusk, oil painting") == "oil painting"
    assert style_words("a lighthouse at dusk") is None
    assert style_words("a fox, sitting in the snow under a pine tree at night") is None
