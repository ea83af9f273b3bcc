"""Checkable findings about a poem, line by line, for a critique to stand on.

The form checker (tools/poem/forms.py) gives each line's syllables (English) or characters
(Chinese) against what the form wants, and the rhymes it missed. On top of that:

- repeated words: content words used more than once (in regulated Chinese verse a repeated
  character, 重字, is itself a fault), with the lines they are on;
- stock phrases: worn phrases from a fixed list (STOCK_PHRASES), found where they occur.

A poem pasted with no form named is read against the closest form it nearly meets (at least
CLOSE_ENOUGH of that form's rules), else as free verse, and the findings say which.
`describe` turns the findings into lines for a model's prompt; `advice` into actions, each
naming the line it is about, so that applying one revises exactly that line.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from tools.poem import prosody
from tools.poem.forms import FORMS, Form, FormCheck, UnknownForm, check, find_form

CLOSE_ENOUGH = 0.7
# Words too common to count as repetition.
_STOPWORDS = frozenset(
    re.findall(
        r"\w+",
        """a an the and or but nor so yet of to in on at by for with from into onto over under
        as is are was were be been am i me my mine you your yours he him his she her hers it
        its we us our ours they them their theirs this that these those there here not no all
        what when where who whom which how than then too very can will would shall should
        could do does did has have had just only s t""",
    )
)
# Function characters a Chinese line may repeat without fault.
_CHINESE_FUNCTION = frozenset("之乎者也而以其不于与为的了在是有一人")
STOCK_PHRASES = (
    "heart of gold",
    "broken heart",
    "heart and soul",
    "tears like rain",
    "tears of joy",
    "cold as ice",
    "dark and stormy",
    "dead of night",
    "crystal clear",
    "gentle breeze",
    "whispering wind",
    "blanket of snow",
    "sea of faces",
    "stars above",
    "sky so blue",
    "endless sky",
    "endless night",
    "silver moon",
    "golden sun",
    "ray of hope",
    "light of my life",
    "time stood still",
    "in the end",
    "at the end of the day",
    "forever and ever",
    "deep inside",
    "my soul cries",
    "lost in thought",
    "a world of my own",
    "dance in the rain",
    "the sands of time",
    "the test of time",
    "shattered dreams",
    "burning desire",
    "love is blind",
    "emerald green",
    "ruby red",
    "pitch black",
    "as old as time",
    "now and forever",
    "岁月如梭",
    "时光飞逝",
    "泪流满面",
    "心如刀割",
    "光阴似箭",
)


@dataclass(frozen=True)
class LineFinding:
    number: int  # 1-based
    text: str
    units: int  # syllables (en) or characters (zh)
    wanted: tuple[int, int] | None
    problems: tuple[str, ...]  # the checker's problems that name this line


@dataclass(frozen=True)
class Repeat:
    word: str
    count: int
    lines: tuple[int, ...]  # each line it is on, once


@dataclass(frozen=True)
class PoemFindings:
    form: Form
    form_source: str  # "requested", "closest" or "free verse"
    lang: str
    result: FormCheck
    lines: tuple[LineFinding, ...]
    repeated_words: tuple[Repeat, ...]
    stock_phrases: tuple[tuple[str, int], ...]  # phrase, its line
    tone: str | None

    @property
    def unit(self) -> str:
        return "characters" if self.lang == "zh" else "syllables"

    def as_params(self) -> dict[str, object]:
        return {
            "form": self.form.name,
            "form_source": self.form_source,
            "lang": self.lang,
            "check": self.result.summary(),
            "form_met": self.result.ok,
            "units": [line.units for line in self.lines],
            "repeated_words": {r.word: r.count for r in self.repeated_words},
            "stock_phrases": [[phrase, line] for phrase, line in self.stock_phrases],
            "tone": self.tone,
            **(self.result.tones.as_params() if self.result.tones else {}),
        }


def find(poem: str, *, form: str | None = None, tone: str | None = None) -> PoemFindings:
    lang = "zh" if prosody.is_chinese(poem) else "en"
    chosen, source = _form_for(poem, form, lang)
    result = check(poem, chosen)
    faults = _faults_by_line(result)
    lines = tuple(
        LineFinding(
            line.number, line.text, line.units, line.wanted, tuple(faults.get(line.number, ()))
        )
        for line in result.lines
    )
    texts = [line.text for line in lines]
    return PoemFindings(
        form=chosen,
        form_source=source,
        lang=lang,
        result=result,
        lines=lines,
        repeated_words=repeated_words(texts, lang),
        stock_phrases=stock_phrases(texts),
        tone=tone,
    )


def repeated_words(lines: list[str], lang: str) -> tuple[Repeat, ...]:
    """Content words (Han characters in Chinese) used more than once, most used first."""
    places: dict[str, list[int]] = {}
    for number, line in enumerate(lines, start=1):
        if lang == "zh":
            words = [c for c in prosody.han_characters(line) if c not in _CHINESE_FUNCTION]
        else:
            words = [w for w in prosody.english_words(line) if w not in _STOPWORDS]
            words = [w for w in words if len(w) > 2]
        for word in words:
            places.setdefault(word, []).append(number)
    counts = Counter({word: len(found) for word, found in places.items() if len(found) > 1})
    return tuple(
        Repeat(word, count, tuple(dict.fromkeys(places[word])))
        for word, count in counts.most_common()
    )


def stock_phrases(lines: list[str]) -> tuple[tuple[str, int], ...]:
    found = []
    for number, line in enumerate(lines, start=1):
        plain = " ".join(prosody.english_words(line)) if not prosody.is_chinese(line) else line
        for phrase in STOCK_PHRASES:
            if re.search(rf"(?<!\w){re.escape(phrase)}(?!\w)", plain, re.IGNORECASE):
                found.append((phrase, number))
    return tuple(found)


def describe(findings: PoemFindings) -> list[str]:
    """Per-line findings and the whole poem's, for a model's prompt and the critique's footer."""
    f = findings
    how = {
        "requested": "the form it was written in",
        "closest": "the closest form; none was named",
        "free verse": "no fixed form fits",
    }[f.form_source]
    lines = [f"form: {f.form.label} ({how}); checker: {f.result.summary()}"]
    if f.result.tones is not None:
        lines.append(f"tones: {f.result.tones.summary()} (measured by Mandarin readings)")
    if f.tone:
        lines.append(f"requested tone: {f.tone}")
    for line in f.lines:
        wanted = "" if line.wanted is None else f", wanted {_bounds(line.wanted)}"
        # The count problem is already said by "N syllables, wanted M".
        shown = [p for p in line.problems if not p.startswith(f"line {line.number} has")]
        faults = f"; {'; '.join(shown)}" if shown else ""
        lines.append(f'line {line.number}: "{line.text}" - {line.units} {f.unit}{wanted}{faults}')
    if f.result.line_count_problem:
        lines.append(f"the poem {f.result.line_count_problem}")
    if f.repeated_words:
        repeats = ", ".join(
            f"{r.word} x{r.count} ({_on_lines(r.lines)})" for r in f.repeated_words[:6]
        )
        lines.append(f"repeated words: {repeats}")
    else:
        lines.append("repeated words: none")
    if f.stock_phrases:
        stock = ", ".join(f'"{p}" (line {n})' for p, n in f.stock_phrases)
        lines.append(f"stock phrases: {stock}")
    else:
        lines.append("stock phrases: none found")
    return lines


def advice(findings: PoemFindings) -> list[str]:
    """Actions the findings point to, each naming its line, most pressing first; always at
    least two (tightening the longest line and the last line are always possible)."""
    f, actions = findings, []
    if f.result.line_count_problem:
        actions.append(f"Bring the poem to the length of a {f.form.label}: it {_problem(f)}.")
    for line in f.lines:
        for problem in line.problems:
            actions.append(_line_action(line, problem, f))
    for phrase, number in f.stock_phrases:
        actions.append(
            f'Replace the stock phrase "{phrase}" in line {number} with an image of your own.'
        )
    for repeat in f.repeated_words[:2]:
        actions.append(
            f'Vary the word "{repeat.word}" in line {repeat.lines[-1]}: it is used '
            f"{repeat.count} times ({_on_lines(repeat.lines)})."
        )
    if f.lines:
        actions.append(_opening_action(f))
        last = f.lines[-1]
        actions.append(
            f'Make line {last.number} end on a concrete image: it is "{_clip(last.text)}".'
        )
    return list(dict.fromkeys(actions))


def _opening_action(f: PoemFindings) -> str:
    """Free lengths: tighten the longest line. Fixed counts: sharpen the first line's image."""
    if f.form.line_units is None:
        longest = max(f.lines, key=lambda line: line.units)
        return (
            f"Cut any word line {longest.number} does not need: at {longest.units} {f.unit} "
            "it is the longest line."
        )
    first = f.lines[0]
    return (
        f"Rewrite line 1 to open on a sound or a sight, keeping its {first.units} {f.unit}: "
        f'it is "{_clip(first.text)}".'
    )


def _form_for(poem: str, named: str | None, lang: str) -> tuple[Form, str]:
    if named:
        try:
            return find_form(named), "requested"
        except UnknownForm:
            pass  # a form this checker does not know is read as free verse
    count = len(prosody.chinese_verse_lines(poem) if lang == "zh" else prosody.content_lines(poem))
    candidates = [
        form
        for form in FORMS.values()
        if form.name != "free verse"
        and form.language in (None, lang)
        and form.lines[0] <= count <= form.lines[1]
    ]
    scored = [(check(poem, form).score, form) for form in candidates]
    best = max(scored, key=lambda pair: pair[0], default=None)
    if best is not None and best[0] >= CLOSE_ENOUGH:
        return best[1], "closest"
    return FORMS["free verse"], "free verse"


_LINE = re.compile(r"^lines? (\d+)(?: and (\d+))?")


def _faults_by_line(result: FormCheck) -> dict[int, list[str]]:
    """The checker's problems under the line a rewrite should change (the second of a pair)."""
    faults: dict[int, list[str]] = {}
    for problem in result.problems:
        found = _LINE.match(problem)
        if found:
            faults.setdefault(int(found.group(2) or found.group(1)), []).append(problem)
    return faults


def _line_action(line: LineFinding, problem: str, findings: PoemFindings) -> str:
    if "should rhyme" in problem or "end on the same" in problem:
        return f"Rewrite line {line.number} so that it rhymes as the form asks ({problem})."
    if "repeats line" in problem:
        return f"Rewrite line {line.number} with something new: {problem}."
    if line.wanted is not None:
        return (
            f"Rewrite line {line.number} to {_bounds(line.wanted)} {findings.unit}: it has "
            f"{line.units}."
        )
    return f"Rewrite line {line.number}: {problem}."


def _problem(findings: PoemFindings) -> str:
    return findings.result.line_count_problem or ""


def _bounds(bounds: tuple[int, int]) -> str:
    low, high = bounds
    return str(low) if low == high else f"{low}-{high}"


def _on_lines(numbers: tuple[int, ...]) -> str:
    if len(numbers) == 1:
        return f"line {numbers[0]}"
    return "lines " + ", ".join(str(n) for n in numbers)


def _clip(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
