"""Which requests build on the poem in focus, and what a picture of a poem is painted from."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools.contract import ArtifactKind, FocusArtifact
from tools.from_poem import PICTURE_PROMPT_CHARS, picture_prompt, poem_asked_for

HAIKU = "An old silent pond,\nA frog jumps into the pond:\nsplash! Silence again."


def focus(kind: ArtifactKind, text: str | None = HAIKU) -> FocusArtifact:
    return FocusArtifact(4, kind, "a pond", text, Path("x") if text is None else None, None, {})


@pytest.mark.parametrize(
    ("request_words", "about_the_poem"),
    [
        ("illustrate my poem", True),
        ("a song for the haiku", True),
        ("为这首诗配一幅画", True),
        ("paint it", True),  # "it" is the piece in focus: the poem
        ("paint a red fox", False),
        ("draw this in ink", True),
        ("make an image of #4", True),
        ("draw a lighthouse in fog", False),
    ],
)
def test_a_request_builds_on_the_poem_in_focus_only_when_it_speaks_of_it(
    request_words: str, about_the_poem: bool
) -> None:
    assert (poem_asked_for(focus(ArtifactKind.POEM), request_words) is not None) is about_the_poem


def test_only_a_poem_with_words_is_built_on() -> None:
    assert poem_asked_for(focus(ArtifactKind.IMAGE, None), "illustrate my poem") is None
    assert poem_asked_for(focus(ArtifactKind.POEM, "  "), "illustrate my poem") is None
    assert poem_asked_for(None, "illustrate my poem") is None


def test_a_picture_of_a_poem_is_painted_from_its_lines_in_the_style_asked() -> None:
    poem = focus(ArtifactKind.POEM)
    expected = "An old silent pond, A frog jumps into the pond, splash! Silence again"
    assert picture_prompt(poem, "illustrate the poem") == expected
    assert picture_prompt(poem, "paint the haiku as an ink drawing") == f"{expected}, ink drawing"
    assert picture_prompt(poem, "a picture of my poem in #4") == expected  # no style named


def test_a_long_poem_is_cut_at_a_line_to_what_the_text_encoder_reads() -> None:
    lines = [f"line {n} of a very long poem about the sea and the sky" for n in range(40)]
    prompt = picture_prompt(focus(ArtifactKind.POEM, "\n".join(lines)), "illustrate it")
    assert len(prompt) <= PICTURE_PROMPT_CHARS
    assert prompt.startswith("line 0 of") and prompt.endswith("the sky")
