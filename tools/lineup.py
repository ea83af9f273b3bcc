"""The tools atelier offers. Adding a tool: its file in tools/, and one line here."""

from __future__ import annotations

from tools.contract import Tool
from tools.critique.tool import CRITIQUE_TOOL
from tools.image.tool import IMAGE_TOOL
from tools.music.tool import MUSIC_TOOL
from tools.poem.tool import POEM_TOOL
from tools.style.tool import STYLE_TOOL


def creative_tools() -> tuple[Tool, ...]:
    return (POEM_TOOL, IMAGE_TOOL, MUSIC_TOOL, CRITIQUE_TOOL, STYLE_TOOL)
