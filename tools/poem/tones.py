"""Level and oblique tones (平仄) of regulated Chinese verse, and how well a poem keeps them.

A Han character's tone class comes from its Mandarin readings (pypinyin): tones 1 and 2 are
平 (level), tones 3 and 4 are 仄 (oblique), as 中华新韵 counts them; the neutral tone has no
class. A character with several readings has all their classes (行 is 平 as xíng and 仄 as
xìng), and meets a position that wants either.

The patterns are the standard ones of 绝句 and 律诗 (王力《诗词格律》), built from the four
five-character line types

    A 仄仄平平仄    B 平平仄仄平    C 平平平仄仄    D 仄仄仄平平

A seven-character line puts two characters of the opposite tone before its five-character
type (A 平平仄仄平平仄 ...). A 绝句 of four lines and a 律诗 of eight follow the types in turn,
A B C D (仄起) or C D A B (平起), the first five-character line named by its second
character; a poem whose first line rhymes (首句入韵) opens on D instead of A, or B instead of
C, since its first line must end on a level tone like the other rhyme lines.

By custom (一三五不论, in 五言 一三不论) the first and third characters of a line (and the
fifth in 七言) may take either tone; the rest are fixed. One exception is kept: in a B-type
line (平平仄仄平, 仄仄平平仄仄平) the character that would leave the rhyme's level tone alone
among obliques (孤平) stays fixed at 平. Free positions are written 中 in a pattern.

`measure` finds the pattern a poem keeps best and lists the fixed positions it misses; the
form checker reports it as a measurement, and enforces it only in strict mode.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from pypinyin import Style, pinyin

Tone = Literal["平", "仄"]
LEVEL: Tone = "平"
OBLIQUE: Tone = "仄"
EITHER = "中"  # a free position in a pattern
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")

_FIVE = {"A": "仄仄平平仄", "B": "平平仄仄平", "C": "平平平仄仄", "D": "仄仄仄平平"}
_CYCLE = "ABCD"
# (first type without a first-line rhyme, with one, the opening's name).
_OPENINGS = (("A", "D", "仄起"), ("C", "B", "平起"))
# The forms with a tone pattern: characters per line and lines.
FORM_SHAPES: dict[str, tuple[int, int]] = {
    "wujue": (5, 4),
    "qijue": (7, 4),
    "wulv": (5, 8),
    "qilv": (7, 8),
}


@functools.lru_cache(maxsize=65536)
def tone_classes(character: str) -> frozenset[Tone]:
    """平 and/or 仄 for each reading of a Han character; empty for the neutral tone, a
    character pypinyin cannot read, or anything that is not a Han character."""
    if not _HAN.fullmatch(character):
        return frozenset()
    readings = pinyin(
        character, style=Style.TONE3, heteronym=True, neutral_tone_with_five=True, errors="ignore"
    )
    classes: set[Tone] = set()
    for reading in readings[0] if readings else ():
        digit = reading[-1:]
        if digit in "12":
            classes.add(LEVEL)
        elif digit in "34":
            classes.add(OBLIQUE)
    return frozenset(classes)


def fits(character: str, wanted: str) -> bool:
    """Whether the character may stand where a pattern wants `wanted` (平, 仄 or 中). A
    character with no tone class (the neutral tone) is not counted against a pattern."""
    if wanted == EITHER:
        return True
    classes = tone_classes(character)
    return not classes or wanted in classes


@dataclass(frozen=True)
class Pattern:
    """One standard tone pattern: a string of 平/仄/中 per line."""

    name: str  # e.g. 仄起首句不入韵
    lines: tuple[str, ...]

    def wanted(self, line: int, position: int) -> str:
        """平, 仄 or 中 (either) at a 0-based line and character position."""
        return self.lines[line][position]


def line_pattern(kind: str, characters: int) -> str:
    """A line type as 平/仄/中, with the positions custom leaves free marked 中."""
    five = _FIVE[kind]
    strict = five if characters == 5 else "".join(_opposite(t) for t in five[:2]) + five
    free = {0, 2} if characters == 5 else {0, 2, 4}
    if kind == "B":
        free -= {0 if characters == 5 else 2}  # 孤平: this level tone stays
    return "".join(EITHER if i in free else tone for i, tone in enumerate(strict))


def patterns(characters: int, lines: int) -> tuple[Pattern, ...]:
    """The four standard patterns of a 绝句 (4 lines) or 律诗 (8) of 5 or 7 characters."""
    found = []
    for plain_first, rhymed_first, opening in _OPENINGS:
        start = _CYCLE.index(plain_first)
        kinds = [_CYCLE[(start + i) % 4] for i in range(lines)]
        for rhymed in (False, True):
            first = rhymed_first if rhymed else plain_first
            shape = [line_pattern(kind, characters) for kind in (first, *kinds[1:])]
            # The five-character type's second character names the opening; a seven-character
            # line's second character is its opposite.
            name = opening if characters == 5 else _renamed(opening)
            found.append(Pattern(f"{name}首句{'入韵' if rhymed else '不入韵'}", tuple(shape)))
    return tuple(found)


def patterns_for_form(form_name: str) -> tuple[Pattern, ...]:
    """The patterns of a Chinese regulated form by its name (wujue ...); () for others."""
    shape = FORM_SHAPES.get(form_name)
    return () if shape is None else patterns(*shape)


@dataclass(frozen=True)
class ToneMiss:
    line: int  # 1-based
    position: int  # 1-based
    character: str
    wanted: Tone

    def describe(self) -> str:
        return (
            f"line {self.line} character {self.position} ({self.character}) should be {self.wanted}"
        )


@dataclass(frozen=True)
class ToneCheck:
    """How a poem keeps the pattern it comes closest to."""

    pattern: Pattern
    checked: int  # fixed positions compared (lines of the right length only)
    misses: tuple[ToneMiss, ...]

    @property
    def kept(self) -> int:
        return self.checked - len(self.misses)

    @property
    def share(self) -> float:
        return self.kept / self.checked if self.checked else 0.0

    @property
    def ok(self) -> bool:
        return self.checked > 0 and not self.misses

    def summary(self) -> str:
        """平仄 仄起首句入韵 ✓, or 平仄 仄起首句入韵 14/16 (line 2 character 4 (X) should be 平)."""
        head = f"平仄 {self.pattern.name}"
        if self.ok:
            return f"{head} ✓"
        first = f" ({self.misses[0].describe()})" if self.misses else ""
        return f"{head} {self.kept}/{self.checked}{first}"

    def misses_on(self, line: int) -> tuple[ToneMiss, ...]:
        return tuple(miss for miss in self.misses if miss.line == line)

    def as_params(self) -> dict[str, object]:
        return {
            "tone_pattern": self.pattern.name,
            "tones_kept": f"{self.kept}/{self.checked}",
            "tone_misses": [[m.line, m.position, m.character, m.wanted] for m in self.misses],
        }


def measure(lines: Sequence[str], form_name: str) -> ToneCheck | None:
    """The poem's verse lines against the form's patterns: the one it keeps best (ties: the
    first, 仄起 before 平起). None for a form with no tone pattern."""
    candidates = patterns_for_form(form_name)
    if not candidates:
        return None
    characters = [_HAN.findall(line) for line in lines]
    checks = [_against(characters, pattern) for pattern in candidates]
    return max(checks, key=lambda check: (check.kept, -len(check.misses)))


def _against(lines: list[list[str]], pattern: Pattern) -> ToneCheck:
    checked, misses = 0, []
    for index, (characters, wanted_line) in enumerate(zip(lines, pattern.lines, strict=False)):
        if len(characters) != len(wanted_line):
            continue  # a line of the wrong length: the count problem says so already
        for position, (character, wanted) in enumerate(zip(characters, wanted_line, strict=True)):
            if wanted == EITHER:
                continue
            checked += 1
            if not fits(character, wanted):
                misses.append(ToneMiss(index + 1, position + 1, character, wanted))  # type: ignore[arg-type]
    return ToneCheck(pattern, checked, tuple(misses))


def _opposite(tone: str) -> str:
    return OBLIQUE if tone == LEVEL else LEVEL


def _renamed(opening: str) -> str:
    return "平起" if opening == "仄起" else "仄起"
