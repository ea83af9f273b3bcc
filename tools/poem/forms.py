"""Poem forms as machine-checkable rules, and the checker that says how well a poem met one.

A form fixes some of: the number of lines, the syllables (English) or characters (Chinese)
of each line, and which lines rhyme. The checker measures a poem against its form and returns
what a person can read in one line: `haiku 5-7-5 ✓`, or `line 2 has 8 syllables, wanted 7`.
The poem tool reports only what this checker confirmed, never the form it was asked for.

For the regulated Chinese forms the checker also measures the tone pattern (平仄,
tools/poem/tones.py): reported as `tones`, a measurement, not a failure, unless the check is
strict (`strict_tones`), when each line's missed tones are problems of that line.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from typing import Literal

from tools.poem import prosody, tones
from tools.poem.tones import ToneCheck

Language = Literal["en", "zh"]
# "line 3 has ...", "line 3 repeats line 1", "lines 1 and 3 should rhyme": the line at fault.
_FAULT = re.compile(r"^lines? (\d+)(?: and (\d+))?")
Bounds = tuple[int, int]  # inclusive


@dataclass(frozen=True)
class Form:
    name: str  # as people type it: /poem form=haiku
    language: Language | None  # None: either
    lines: Bounds
    # Per line, syllables (en) or characters (zh); None where the form does not count them.
    line_units: tuple[Bounds, ...] | None = None
    # One letter per line, "-" for a line that need not rhyme; any one scheme will do.
    rhyme_schemes: tuple[str, ...] = ()
    title: str = ""

    @property
    def label(self) -> str:
        return self.title or self.name

    @property
    def unit(self) -> str:
        return "characters" if self.language == "zh" else "syllables"


def _same(count: int, low: int, high: int | None = None) -> tuple[Bounds, ...]:
    """`count` lines of `low` units each (of `low` to `high`, given `high`)."""
    return ((low, high if high is not None else low),) * count


def _exact(*counts: int) -> tuple[Bounds, ...]:
    return tuple((count, count) for count in counts)


FORMS: dict[str, Form] = {
    form.name: form
    for form in (
        Form("free verse", None, (2, 40)),
        Form("haiku", "en", (3, 3), _exact(5, 7, 5)),
        Form("tanka", "en", (5, 5), _exact(5, 7, 5, 7, 7)),
        Form("limerick", "en", (5, 5), ((7, 10), (7, 10), (5, 7), (5, 7), (7, 10)), ("AABBA",)),
        Form("quatrain", "en", (4, 4), None, ("ABAB", "AABB")),
        # Pentameter is 10 syllables; 9-11 allows an elision or a feminine ending.
        Form("sonnet", "en", (14, 14), _same(14, 9, 11), ("ABABCDCDEFEFGG",), "sonnet"),
        Form("wujue", "zh", (4, 4), _same(4, 5), ("-A-A",), title="五言绝句"),
        Form("qijue", "zh", (4, 4), _same(4, 7), ("-A-A",), title="七言绝句"),
        Form("wulv", "zh", (8, 8), _same(8, 5), ("-A-A-A-A",), title="五言律诗"),
        Form("qilv", "zh", (8, 8), _same(8, 7), ("-A-A-A-A",), title="七言律诗"),
    )
}
# [shown, value] for pickers (Discord's form choices): "五言绝句 (wujue)", "haiku".
FORM_CHOICES: list[list[str]] = [
    [form.name if form.label == form.name else f"{form.label} ({form.name})", form.name]
    for form in FORMS.values()
]
ALIASES = {
    "free": "free verse",
    "freeverse": "free verse",
    "free-verse": "free verse",
    "shakespearean sonnet": "sonnet",
    "五言绝句": "wujue",
    "七言绝句": "qijue",
    "五言律诗": "wulv",
    "七言律诗": "qilv",
    "五绝": "wujue",
    "七绝": "qijue",
    "五律": "wulv",
    "七律": "qilv",
    "绝句": "wujue",
    "律诗": "wulv",
    "jueju": "wujue",
    "lvshi": "wulv",
    "lushi": "wulv",
}


class UnknownForm(ValueError):
    def __init__(self, name: str) -> None:
        known = ", ".join(form.label for form in FORMS.values())
        super().__init__(f"I don't know the form {name!r}. I can write: {known}.")


def form_name(typed: str) -> str:
    """A form's name as typed by a person or a model ("Haiku", "五绝") made canonical, for an
    argument validator: an unknown form is a ValueError listing the known ones."""
    try:
        return find_form(typed).name
    except UnknownForm as unknown:
        raise ValueError(str(unknown)) from None


def find_form(name: str) -> Form:
    key = " ".join(name.strip().lower().split())
    key = ALIASES.get(key, key)
    if key not in FORMS:
        raise UnknownForm(name)
    return FORMS[key]


@dataclass(frozen=True)
class LineCheck:
    number: int  # 1-based
    text: str
    units: int  # the count closest to what was wanted, among the line's possible counts
    wanted: Bounds | None

    @property
    def ok(self) -> bool:
        return self.wanted is None or self.wanted[0] <= self.units <= self.wanted[1]


@dataclass(frozen=True)
class FormCheck:
    form: Form
    lines: tuple[LineCheck, ...]
    rhyme_problems: tuple[str, ...]
    scheme: str | None  # the rhyme scheme that was met (or came closest)
    line_count_problem: str | None
    tones: ToneCheck | None = None  # regulated Chinese forms: the 平仄 pattern kept best
    strict_tones: bool = False  # missed tones are problems, not only measured

    @property
    def problems(self) -> tuple[str, ...]:
        counted = tuple(_unit_problem(line, self.form) for line in self.lines if not line.ok)
        head = (self.line_count_problem,) if self.line_count_problem else ()
        return head + counted + self.rhyme_problems + _repeated_lines(self.lines) + self._tones()

    def _tones(self) -> tuple[str, ...]:
        """In strict mode, one problem per line that misses its tones."""
        if not self.strict_tones or self.tones is None:
            return ()
        return tuple(
            "; ".join(miss.describe() for miss in self.tones.misses_on(line.number))
            for line in self.lines
            if self.tones.misses_on(line.number)
        )

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def failing_lines(self) -> tuple[int, ...]:
        """The lines to rewrite: a count missed, the second of a pair that should rhyme, a
        repeated line."""
        return tuple(sorted({number for number, _ in self._faults() if number is not None}))

    def problems_on(self, numbers: Collection[int]) -> tuple[str, ...]:
        """The problems that lines `numbers` are at fault for (the lines a relay turn added)."""
        return tuple(problem for number, problem in self._faults() if number in numbers)

    def _faults(self) -> list[tuple[int | None, str]]:
        """Each problem with the line at fault, where it names one."""
        faults = []
        for problem in self.problems:
            found = _FAULT.match(problem)
            faults.append((int(found.group(2) or found.group(1)) if found else None, problem))
        return faults

    @property
    def score(self) -> float:
        """Share of the form's rules met (1.0: all): picks the best of several candidates."""
        checks = len(self.lines) + len(self.scheme or "") + 1
        failed = len(self.problems)
        return max(0.0, 1.0 - failed / checks)

    def summary(self) -> str:
        """One line for the person: what was met, or what was not."""
        if not self.ok:
            problems = self.problems
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            return f"{self.form.label}: {problems[0]}{more}"
        parts = [self.form.label]
        if self.form.line_units is not None:
            parts.append(_counts(self.lines, self.form.unit))
        if self.scheme and self.form.language == "en":
            parts.append(self.scheme)
        elif self.scheme:  # Chinese: which lines rhyme
            parts.append(
                "rhyme " + "·".join(str(i + 1) for i, c in enumerate(self.scheme) if c != "-")
            )
        if len(parts) == 1:
            parts.append(_lines(len(self.lines)))
        return " ".join(parts) + " ✓"


def check(poem: str, form: Form, *, strict_tones: bool = False) -> FormCheck:
    language = form.language or ("zh" if prosody.is_chinese(poem) else "en")
    lines = prosody.chinese_verse_lines(poem) if language == "zh" else prosody.content_lines(poem)
    wanted = form.line_units or ()
    checks = tuple(
        _check_line(i + 1, line, wanted[i] if i < len(wanted) else None, language)
        for i, line in enumerate(lines)
    )
    scheme, rhyme_problems = _check_rhymes(lines, form.rhyme_schemes, language)
    measured = tones.measure(lines, form.name) if language == "zh" else None
    return FormCheck(
        form,
        checks,
        rhyme_problems,
        scheme,
        _line_count_problem(len(lines), form),
        tones=measured,
        strict_tones=strict_tones,
    )


def _check_line(number: int, line: str, wanted: Bounds | None, language: str) -> LineCheck:
    if language == "zh":
        return LineCheck(number, line, len(prosody.han_characters(line)), wanted)
    options = prosody.line_syllable_options(line)
    if wanted is None:
        return LineCheck(number, line, min(options), None)
    closest = min(options, key=lambda n: max(wanted[0] - n, n - wanted[1], 0))
    return LineCheck(number, line, closest, wanted)


def _repeated_lines(lines: tuple[LineCheck, ...]) -> tuple[str, ...]:
    """A line said twice is not two lines of a poem (none of these forms has a refrain)."""
    first_seen: dict[str, int] = {}
    problems = []
    for line in lines:
        key = " ".join(re.findall(r"\w+", line.text.lower()))
        if key in first_seen:
            problems.append(f"line {line.number} repeats line {first_seen[key]}")
        else:
            first_seen[key] = line.number
    return tuple(problems)


def _line_count_problem(count: int, form: Form) -> str | None:
    low, high = form.lines
    if low <= count <= high:
        return None
    wanted = str(low) if low == high else f"{low}-{high}"
    return f"has {_lines(count)}, wanted {wanted}"


def _counts(lines: tuple[LineCheck, ...], unit: str) -> str:
    """5-7-5 for a short form; "14 lines of 10-11 syllables" for a long one."""
    counts = [line.units for line in lines]
    if len(counts) <= 5:
        return "-".join(map(str, counts))
    low, high = min(counts), max(counts)
    return f"{len(counts)} lines of {low if low == high else f'{low}-{high}'} {unit},"


def _lines(count: int) -> str:
    return f"{count} line" if count == 1 else f"{count} lines"


def _unit_problem(line: LineCheck, form: Form) -> str:
    assert line.wanted is not None
    low, high = line.wanted
    wanted = str(low) if low == high else f"{low}-{high}"
    return f"line {line.number} has {line.units} {form.unit}, wanted {wanted}"


def _check_rhymes(
    lines: list[str], schemes: tuple[str, ...], language: str
) -> tuple[str | None, tuple[str, ...]]:
    """The scheme met, or the one with the fewest problems, and its problems."""
    if not schemes:
        return None, ()
    results = [(scheme, _scheme_problems(lines, scheme, language)) for scheme in schemes]
    scheme, problems = min(results, key=lambda result: len(result[1]))
    return scheme, tuple(problems)


def _scheme_problems(lines: list[str], scheme: str, language: str) -> list[str]:
    ends = [_line_end(line, language) for line in lines]
    rhyme = prosody.chinese_rhyme if language == "zh" else prosody.english_rhyme
    problems = []
    first_of: dict[str, int] = {}
    for index, letter in enumerate(scheme[: len(lines)]):
        if letter == "-":
            continue
        if letter not in first_of:
            first_of[letter] = index
            continue
        anchor = first_of[letter]
        a, b = ends[anchor], ends[index]
        pair = f"lines {anchor + 1} and {index + 1}"
        if a is not None and a == b:  # a word does not rhyme with itself
            problems.append(f"{pair} end on the same {_word(language)} ({a})")
        elif a is None or b is None or not rhyme(a, b):
            problems.append(f"{pair} should rhyme ({a} / {b})")
    return problems


def _word(language: str) -> str:
    return "character" if language == "zh" else "word"


def _line_end(line: str, language: str) -> str | None:
    if language == "zh":
        return prosody.last_han_character(line)
    return prosody.last_english_word(line)
