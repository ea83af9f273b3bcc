"""The tools atelier offers. Adding a tool: its file in tools/, and one line here.

The poem, image, music and critique tools arrive with their own issues; until then free
text is answered by chat alone, and explicit tool commands are unknown commands.
"""

from __future__ import annotations

from tools.base import Tool


def creative_tools() -> tuple[Tool, ...]:
    return ()
