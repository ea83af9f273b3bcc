"""What the picture in focus shows, in words: the subject of a poem about it or music for it
(the poem tool's and the music tool's mode "picture"). Whether a request asks for one is
read in those tools' intents.py.

The vision model (role "vision", the one the critique looks at pictures with) describes the
picture once, in a sentence or two; the tool then writes from that description as from any
subject, and the piece it makes names the picture as its source ("made from #N").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from PIL import Image

from tools.contract import ArtifactKind, FocusArtifact, ToolContext, ToolRefused
from tools.critique.model import vision_reader, write

VISION_ROLE = "vision"
# A sentence or two: what a poem's or a clip's prompt holds, not an essay.
DESCRIPTION_TOKENS = 60
NO_PICTURE = "There is no picture in focus to work from: upload one, or name it as #N."
_ASK = {
    "en": "Describe this picture in one or two sentences: what it shows, its colours and mood.",
    "zh": "用一两句话描述这张图片：画的是什么，颜色和气氛。",
}


@dataclass(frozen=True)
class PictureSubject:
    """The picture a piece is made from: its number, and what the vision model saw in it."""

    number: int
    description: str


def picture_in_focus(focus: FocusArtifact | None) -> FocusArtifact:
    """The image in focus with its file, or the one line that says there is none."""
    if focus is None or focus.kind is not ArtifactKind.IMAGE or focus.media_path is None:
        raise ToolRefused(NO_PICTURE)
    return focus


def describe_picture(context: ToolContext, seed: int, lang: str = "en") -> PictureSubject:
    """The picture in focus described by the vision model (in Chinese for a Chinese piece),
    sampled with `seed` so the same picture and seed give the same words."""
    picture = picture_in_focus(context.focus)
    assert picture.media_path is not None  # picture_in_focus checked it
    with Image.open(picture.media_path) as opened:
        image = opened.convert("RGB")
    reader = vision_reader(context.models.get(VISION_ROLE), image)
    context.progress(0.02, f"looking at #{picture.number}")
    prompt = reader.render([("user", _ASK["zh" if lang == "zh" else "en"])])
    words = _one_paragraph(write(reader, prompt, seed, DESCRIPTION_TOKENS))
    if not words:
        raise ToolRefused(f"The vision model saw nothing to say about #{picture.number}.")
    return PictureSubject(picture.number, words)


def _one_paragraph(text: str) -> str:
    """The reply as one line: a model's line breaks and runs of spaces folded."""
    return re.sub(r"\s+", " ", text).strip()
