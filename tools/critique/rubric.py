"""The rubric a critique is judged by, and the prompts that put it to a model.

Four criteria, each defined for the model; what it is told about the piece (`Grounds`: the
measurements, and the poem itself for a text model); one prompt per criterion asking for a
score, and one asking for the written critique in a fixed layout, which the reply is started
with (WRITING_PREFILL) so that a small model keeps to it.

Pure Python (no torch, no pydantic): bench/critique.py builds these prompts on bare machines.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

CRITERIA = ("creativity", "aesthetics", "technique", "emotional impact")
DEFINITIONS = {
    "creativity": "originality: fresh ideas, images and choices rather than stock ones",
    "aesthetics": "beauty and coherence of its form, colour, sound or language",
    "technique": "craft: control of the medium and of its rules",
    "emotional impact": "how strongly and clearly it conveys a feeling",
}
WRITING_PREFILL = "Creativity:"
SYSTEM = (
    "You are a frank, fair art critic. You judge a piece on creativity, aesthetics, technique "
    "and emotional impact, and ground every judgement in the measurements you are given and "
    "in the piece itself. You never flatter."
)
# (role, text) turns -> the prompt text of one model (a chat template, with a picture or not).
Render = Callable[[list[tuple[str, str]]], str]


@dataclass(frozen=True)
class Grounds:
    """What the model is told about the piece, and what stands in for its words."""

    intro: str  # what the piece is
    piece: str | None  # the poem itself, for a text model
    lines: tuple[str, ...]  # the measurements, one per line
    advice: tuple[str, ...]  # actions the measurements point to, most pressing first
    evidence: Mapping[str, str]  # per criterion: the measurements that bear on it
    measurements: Mapping[str, Any]  # kept in the critique's params


def base_request(grounds: Grounds, asked: str | None) -> str:
    parts = [grounds.intro]
    if grounds.piece is not None:
        parts.append(f"The poem:\n{grounds.piece}")
    parts.append("Measurements:\n" + "\n".join(f"- {line}" for line in grounds.lines))
    if asked:
        parts.append(f"The person asked you to look especially at: {asked}")
    return "\n\n".join(parts)


def score_prompt(render: Render, request: str, criterion: str) -> str:
    ask = (
        f"{request}\n\nRate its {criterion} ({DEFINITIONS[criterion]}) on a scale from 1 "
        "(poor) to 10 (outstanding). Answer with the number only."
    )
    return render([("system", SYSTEM), ("user", ask)])


def writing_prompt(render: Render, request: str, scores: Mapping[str, int]) -> str:
    given = ", ".join(f"{criterion} {scores[criterion]}/10" for criterion in CRITERIA)
    ask = (
        f"{request}\n\nYour scores: {given}.\nFor each, write one sentence of evidence that "
        "cites the measurements or the piece. Then give three concrete suggestions, each an "
        "action that would improve the piece. Use exactly this layout:\n"
        "Creativity: ...\nAesthetics: ...\nTechnique: ...\nEmotional impact: ...\n"
        "Suggestions:\n1. ...\n2. ...\n3. ..."
    )
    return render([("system", SYSTEM), ("user", ask)]) + WRITING_PREFILL
