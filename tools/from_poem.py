"""Pieces made from the poem in focus: music for it (tools/music/tool.py), a picture of it
(tools/image/tool.py).

A request builds on the poem in focus when a poem is in focus and the request speaks of it: a
poem word or form ("my verses", "the haiku", 这首诗), a #N, or "it"/"this" as the thing to set,
sing, draw or paint ("set it to music", "a picture of this").
"""

from __future__ import annotations

import re

from tools.contract import ArtifactKind, FocusArtifact

POEM_WORDS = re.compile(
    r"\b(poem|poems|verse|verses|lines|lyrics|haiku|sonnet|stanza|limerick|tanka|jueju)\b|#\d+|"
    r"诗|\b(set|put|turn|sing|draw|paint|illustrate|picture) (it|this|that)\b|"
    r"\b(to|for|of) (it|this|that)\b",
    re.IGNORECASE,
)
# The style a request asks for at its end: "... in watercolor", "... as an ink drawing".
_STYLE = re.compile(r"\b(?:in|as)\s+(?:an?\s+)?(?P<style>[^,.;:!?#]{3,60}?)\W*$", re.IGNORECASE)
# Enough of a poem for a diffusion model's text encoder, which reads about 77 tokens.
PICTURE_PROMPT_CHARS = 300


def poem_asked_for(focus: FocusArtifact | None, request: str) -> FocusArtifact | None:
    """The poem in focus, when the request is about it."""
    if focus is None or focus.kind is not ArtifactKind.POEM or not (focus.text or "").strip():
        return None
    return focus if POEM_WORDS.search(request) else None


def picture_prompt(poem: FocusArtifact, request: str) -> str:
    """What to paint for a poem: its lines, as many as the text encoder reads, then the style
    the request names at its end ("illustrate my poem in watercolor" -> ", watercolor")."""
    imagery = ""
    for line in (poem.text or "").splitlines():
        line = line.strip(" \t,.;:")
        if not line:
            continue
        if imagery and len(imagery) + len(line) + 2 > PICTURE_PROMPT_CHARS:
            break
        imagery = f"{imagery}, {line}" if imagery else line
    style = _STYLE.search(request)
    if style is None or POEM_WORDS.search(style.group("style")):
        return imagery[:PICTURE_PROMPT_CHARS]
    return f"{imagery[:PICTURE_PROMPT_CHARS]}, {style.group('style').strip()}"
