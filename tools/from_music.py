"""A cover picture for the clip in focus (tools/image/tool.py's mode "cover"): what it is
painted from. Whether a request asks for one is read in tools/image/intents.py.

A clip's description is what it was made from (tools/music/draft.py keeps it in its params
and as its text); for a poem set to music it was written from that poem's words, tone and
lines (tools/music/setting.py), so the cover carries the poem through it. An uploaded clip
has none: its cover is painted from what the person says, and without that it is refused.
"""

from __future__ import annotations

from tools.contract import ArtifactKind, FocusArtifact, ToolRefused
from tools.from_poem import PICTURE_PROMPT_CHARS

NO_CLIP = "There is no clip in focus to make a cover for: name it as #N."


def clip_in_focus(focus: FocusArtifact | None) -> FocusArtifact:
    """The clip a cover is painted for; refused when the focus is not music."""
    if focus is None or focus.kind is not ArtifactKind.MUSIC:
        raise ToolRefused(NO_CLIP)
    return focus


def clip_description(clip: FocusArtifact) -> str:
    """What the clip was made from: its params' description, else its text (none for an
    upload)."""
    said = clip.params.get("description") or clip.text or ""
    return " ".join(str(said).split())


def cover_prompt(clip: FocusArtifact, request: str) -> str:
    """What to paint for a clip: its description, as much as the text encoder reads, then
    what the person added ("a cover for #4 in watercolor" -> "rainy night piano, in
    watercolor")."""
    description = clip_description(clip)[:PICTURE_PROMPT_CHARS].strip(" ,.;:")
    request = " ".join(request.split()).strip(" ,.;:")
    if not description and not request:
        raise ToolRefused(
            f"#{clip.number} has no description to paint a cover from: say what it should "
            f"show, for example `/image mode=cover #{clip.number} a rainy street at night`."
        )
    return ", ".join(part for part in (description, request) if part)
