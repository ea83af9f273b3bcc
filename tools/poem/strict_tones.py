"""Strict 平仄: the tone pattern a strict Chinese regulated poem is written to.

A request marked strict (PoemArgs.strict) gets one standard pattern of its form
(tools/poem/tones.py), chosen by the seed among those its rhyme scheme allows: a scheme whose
first line does not rhyme (-A-A) takes a 首句不入韵 pattern. Each slot the decoder writes
then carries the tone of every fixed position ("ping" or "ze", None where custom leaves it
free), in the words the decoder reads (tools/poem/constrained/lines.py), and `tone_of` gives
a character's classes in those words. A character with no tone class (the neutral tone)
fits either, as the checker counts it.
"""

from __future__ import annotations

from dataclasses import replace

from tools.poem.constrained.spec import Slot
from tools.poem.forms import Form
from tools.poem.tones import EITHER, LEVEL, Pattern, patterns_for_form, tone_classes

_WORD = {LEVEL: "ping"}
_BOTH = frozenset({"ping", "ze"})


def has_tone_pattern(form: Form) -> bool:
    return bool(patterns_for_form(form.name))


def strict_pattern(form: Form, seed: int) -> Pattern | None:
    """The pattern a strict poem of this form keeps, by the seed; None without one."""
    found = patterns_for_form(form.name)
    scheme = form.rhyme_schemes[0] if form.rhyme_schemes else ""
    first_rhymes = bool(scheme) and scheme[0] != "-"
    fitting = [p for p in found if ("不入韵" not in p.name) == first_rhymes]
    return fitting[seed % len(fitting)] if fitting else None


def with_tones(slots: tuple[Slot, ...], pattern: Pattern) -> tuple[Slot, ...]:
    """The slots with each line's tones set from the pattern (lines past it left free)."""
    return tuple(
        replace(slot, tones=line_tones(pattern.lines[i])) if i < len(pattern.lines) else slot
        for i, slot in enumerate(slots)
    )


def line_tones(wanted: str) -> tuple[str | None, ...]:
    """平仄中 as the decoder's "ping", "ze" and None."""
    return tuple(None if tone == EITHER else _WORD.get(tone, "ze") for tone in wanted)


def tone_of(character: str) -> frozenset[str]:
    """A character's tone classes as "ping"/"ze"; both for one with none."""
    classes = frozenset("ping" if tone == LEVEL else "ze" for tone in tone_classes(character))
    return classes or _BOTH
