"""A picture of the poem in focus (tools/image/tool.py's mode "illustrate"): what it is
painted from. Whether a request asks for one is read in tools/image/intents.py."""

from __future__ import annotations

import re

from tools.contract import FocusArtifact

# The style a request asks for at its end: "... in watercolor", "... as an ink drawing".
_STYLE = re.compile(r"\b(?:in|as)\s+(?:an?\s+)?(?P<style>[^,.;:!?#]{3,60}?)\W*$", re.IGNORECASE)
# What ends a request without being a style: the poem itself ("illustrate it in these lines").
_NOT_A_STYLE = re.compile(
    r"\b(poem|poems|verse|verses|lines|lyrics|haiku|sonnet|stanza|limerick|tanka|jueju)\b|"
    r"诗|\b(set|put|turn|sing|draw|paint|illustrate|picture) (it|this|that)\b|"
    r"\b(to|for|of) (it|this|that)\b",
    re.IGNORECASE,
)
# Enough of a poem for a diffusion model's text encoder, which reads about 77 tokens.
PICTURE_PROMPT_CHARS = 300


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
    if style is None or _NOT_A_STYLE.search(style.group("style")):
        return imagery[:PICTURE_PROMPT_CHARS]
    return f"{imagery[:PICTURE_PROMPT_CHARS]}, {style.group('style').strip()}"
