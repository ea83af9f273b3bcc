"""Names and one-line descriptions of the creative tools, in one place.

The chat model chooses a tool from these lines (by tool calling, or by constrained routing
for models that cannot call tools), and the routing tests score phrasings against them before
the tools themselves exist. Each tool file takes its name and description from here, so the
tests keep measuring what the model is really shown.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ToolInfo:
    name: str
    description: str


POEM = ToolInfo(
    "poem",
    "Write a poem in English or Chinese, in a form such as free verse, haiku, sonnet or "
    "jueju, or revise the poem in focus (darker, another stanza ...).",
)
IMAGE = ToolInfo(
    "image",
    "Paint or draw a picture from a description, or make a variation or refinement of the "
    "image in focus.",
)
MUSIC = ToolInfo(
    "music",
    "Compose a short piece of music or a song from a description or a poem, or extend the "
    "music in focus.",
)
CRITIQUE = ToolInfo(
    "critique",
    "Critique a piece of work (a poem, an image or music): creativity, aesthetics, technique "
    "and emotional impact, with suggestions.",
)

CREATIVE_TOOLS = (POEM, IMAGE, MUSIC, CRITIQUE)
