"""A critique's judgement: the scores, the evidence and suggestions that stand, and the text.

The model scores and writes (tools/critique/model.py); what it wrote is checked
(tools/critique/reading.py). Each criterion's evidence is the model's sentence where it wrote
a usable one, else the measurements, marked "(measured)"; the suggestions are the model's,
topped up from the measurements' advice and marked as such. Each piece of evidence and each
suggestion keeps where it came from.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tools.contract import ToolContext
from tools.critique.model import WRITING_TOKENS, Reader, read_piece
from tools.critique.reading import MAX_SUGGESTIONS, Written, parse_written
from tools.critique.rubric import CRITERIA, Grounds
from tools.critique.subject import Subject

MIN_SUGGESTIONS, TARGET_SUGGESTIONS = 2, 3
FOOTER_CHARS, REPLY_CHARS = 420, 1900


@dataclass(frozen=True)
class Judgement:
    scores: dict[str, int]
    expected: dict[str, float]
    evidence: dict[str, str]
    evidence_from: dict[str, str]  # "model" or "measurements"
    suggestions: list[dict[str, str]]  # {"text": ..., "from": "model" | "measurements"}


def judge(
    reader: Reader, grounds: Grounds, asked: str | None, seed: int, context: ToolContext
) -> Judgement:
    def step(fraction: float, label: str) -> None:
        context.check()
        context.progress(fraction, label)

    # An operator may shorten the writing (tool setting writing_tokens) on a slow machine.
    tokens = int(context.settings.get("writing_tokens", WRITING_TOKENS))
    reading = read_piece(reader, grounds, asked, seed, writing_tokens=tokens, step=step)
    written = parse_written(reading.reply, reading.writing_prompt)
    evidence = {c: written.evidence.get(c) or grounds.evidence[c] for c in CRITERIA}
    evidence_from = {c: "model" if c in written.evidence else "measurements" for c in CRITERIA}
    return Judgement(
        reading.scores,
        reading.expected,
        evidence,
        evidence_from,
        _suggestions(written, grounds.advice),
    )


def _suggestions(written: Written, advice: Sequence[str]) -> list[dict[str, str]]:
    """The model's usable suggestions, topped up from the measurements' to at least
    TARGET_SUGGESTIONS where they have that many (never fewer than MIN_SUGGESTIONS)."""
    chosen = [{"text": text, "from": "model"} for text in written.suggestions]
    for text in advice:
        if len(chosen) >= TARGET_SUGGESTIONS:
            break
        chosen.append({"text": text, "from": "measurements"})
    if len(chosen) < MIN_SUGGESTIONS:
        raise RuntimeError("the measurements gave fewer than two suggestions")
    return chosen[:MAX_SUGGESTIONS]


def render(subject: Subject, grounds: Grounds, judgement: Judgement) -> str:
    made = f", from '{_clip(subject.made_from, 60)}'" if subject.made_from else ""
    lines = [f"Critique of {subject.name} ({subject.kind.value}{made})"]
    for criterion in CRITERIA:
        marker = "" if judgement.evidence_from[criterion] == "model" else "(measured) "
        lines.append(
            f"{criterion.capitalize()} {judgement.scores[criterion]}/10: "
            f"{marker}{judgement.evidence[criterion]}"
        )
    lines.append("")
    lines.append("Suggestions:")
    for number, suggestion in enumerate(judgement.suggestions, start=1):
        source = "" if suggestion["from"] == "model" else " (from the measurements)"
        lines.append(f"{number}. {suggestion['text']}{source}")
    body = "\n".join(lines)
    footer = "\n\nMeasured: " + _clip("; ".join(grounds.lines), FOOTER_CHARS)
    if any(source == "measurements" for source in judgement.evidence_from.values()):
        footer += "\n(measured): the model wrote nothing usable there, so the figures stand in."
    return body + footer if len(body) + len(footer) <= REPLY_CHARS else body


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
