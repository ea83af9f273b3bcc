"""The tools atelier offers. Adding a tool: its file in tools/, and one line here."""

from __future__ import annotations

from tools.base import Tool
from tools.critique import CRITIQUE_TOOL
from tools.image import IMAGE_TOOL
from tools.music import MUSIC_TOOL
from tools.poem import POEM_TOOL


def creative_tools() -> tuple[Tool, ...]:
    return (POEM_TOOL, IMAGE_TOOL, MUSIC_TOOL, CRITIQUE_TOOL)
