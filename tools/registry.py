"""The tools atelier offers. Adding a tool: its file in tools/, and one line here.

The image, music and critique tools arrive with their own issues.
"""

from __future__ import annotations

from tools.base import Tool
from tools.poem import POEM_TOOL


def creative_tools() -> tuple[Tool, ...]:
    return (POEM_TOOL,)
