"""What a picture of a poem is painted from. Which requests ask for one is the image tool's
intents table (tests/tools/image/test_intents.py); that the poem must be in focus and have
words, its run (tests/tools/image/test_image.py)."""

from __future__ import annotations

from pathlib import Path

from tools.contract import ArtifactKind, FocusArtifact
from tools.from_poem import PICTURE_PROMPT_CHARS, picture_prompt

HAIKU = "An old silent pond,\nA frog jumps into the pond:\nsplash! Silence again."


def focus(kind: ArtifactKind, text: str | None = HAIKU) -> FocusArtifact:
    return FocusArtifact(4, kind, "a pond", text, Path("x") if text is None else None, None, {})


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
