"""What a poem is to be: its form, language and length, and what the form asks of each line.

A `Plan` is settled once per request (tools/poem/tool.py) and read by every later stage: the
prompts (tools/poem/prompts.py), the constrained writing (tools/poem/writing.py), the
repair path the benchmark keeps (tools/poem/choose.py) and the revisions (tools/poem/revise.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from tools.poem import prosody
from tools.poem.forms import FORMS, Form, UnknownForm, find_form

# Lines of a free verse poem whose request names no length: the decoder writes a fixed
# number of lines, and a short poem of this size suits a small model's breath.
FREE_VERSE_LINES = 6


@dataclass(frozen=True)
class Plan:
    """What to write: the form, language and length, and any note about adjusted requests."""

    form: Form
    lang: str
    lines: int | None
    notes: tuple[str, ...] = ()


def form_or_free_verse(name: str | None) -> Form:
    """The form of that name, or free verse for none or one this tool does not know (a poem
    kept by an older version, say)."""
    try:
        return find_form(name) if name else FORMS["free verse"]
    except UnknownForm:
        return FORMS["free verse"]


def line_count(plan: Plan) -> int:
    """How many lines to write: the length asked for, the form's, else FREE_VERSE_LINES
    (clamped to the form's range)."""
    if plan.lines is not None:
        return plan.lines
    low, high = plan.form.lines
    return low if low == high else min(max(FREE_VERSE_LINES, low), high)


def wanted_units(plan: Plan, number: int) -> tuple[int, int] | None:
    """The syllables (English) or characters (Chinese) line `number` should have, if counted."""
    units = plan.form.line_units
    return units[number - 1] if units and number <= len(units) else None


def rhyme_partner(lines: list[str], number: int, plan: Plan) -> str | None:
    """The word (or character) line `number` must rhyme with: the end of the first earlier
    line of its rhyme letter, in the form's first scheme."""
    for scheme in plan.form.rhyme_schemes[:1]:
        if number > len(scheme) or scheme[number - 1] == "-":
            return None
        letter = scheme[number - 1]
        first = scheme.index(letter) + 1
        if first != number and first <= len(lines):
            if plan.lang == "zh":
                return prosody.last_han_character(lines[first - 1])
            return prosody.last_english_word(lines[first - 1])
    return None
