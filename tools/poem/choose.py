"""Sampling poems and lines from the model, and keeping the ones that meet the form best: the
generate-check-repair path the poem tool used before it wrote inside the form
(tools/poem/writing.py). bench/poem_forms.py keeps it as its method (b), the baseline the
constrained path is measured against; the tool itself no longer calls it.

A reply is cleaned first (numbering, quotes, titles, talk about the rules and lines that only
echo the prompt are not lines of a poem). Among candidates the form checker's score decides;
a failing line is sampled again several times, with word-prefixes that meet its count and
endings among real rhymes (tools/poem/rhyme_endings.py) added to the choice, and a variant is
kept only when the whole poem then meets more of its form.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from tools.contract import ToolContext
from tools.models.sampling import Sampling, sample
from tools.models.text import LoadedCausalLM
from tools.poem import prosody
from tools.poem.forms import FormCheck, check
from tools.poem.plan import Plan, rhyme_partner, wanted_units
from tools.poem.prompts import Messages, line_prompt
from tools.poem.rhyme_endings import rhymed_lines

CANDIDATES = 4
LINE_VARIANTS = 6
REPAIR_ROUNDS = 2
LINE_SAMPLING = Sampling(max_new_tokens=40)
# "2: " or "2. " before a line: the model copying how the repair prompt numbers lines.
_LINE_NUMBER = re.compile(r"^\s*(?:\d+\s*[:.)]\s*)+")
_RULE_TALK = re.compile(r"\b(syllables?|rhyme scheme|the poem should)\b|音节|押韵", re.IGNORECASE)
# A line cut after one of these words reads as cut off.
_DANGLING = frozenset(
    re.findall(
        r"\w+",
        "a an the and or but of to in on at by for with from my your his her its our their "
        "is are was were be as that this",
    )
)


def sample_clean(loaded: LoadedCausalLM, messages: Messages, **options: Any) -> list[str]:
    """Replies with the lines that only echo the prompt removed: a small model repeats its
    instructions ("你是一位诗...") and such a line must not count as a line of the poem."""
    prompt = _plain(" ".join(message["content"] for message in messages))
    replies = sample(loaded, messages, **options)
    return [
        "\n".join(line for line in reply.splitlines() if not _echoes(line, prompt))
        for reply in replies
    ]


def _echoes(line: str, prompt: str) -> bool:
    plain = _plain(line)
    long_enough = len(plain.split()) >= 3 or len(prosody.han_characters(plain)) >= 3
    return long_enough and plain in prompt


def _plain(text: str) -> str:
    return " ".join(re.findall(r"\w+", text.lower()))


def fit_lines(text: str, plan: Plan) -> str:
    """The poem in a model's reply: quotes, titles and commentary dropped, at most as many
    lines as the form has."""
    lines = [_LINE_NUMBER.sub("", line).strip().strip('"“”*') for line in text.splitlines()]
    lines = [line for line in lines if line and not _is_commentary(line)]
    if plan.lang == "zh":
        lines = prosody.chinese_verse_lines("\n".join(lines))
    most = plan.lines or plan.form.lines[1]
    return "\n".join(lines[:most])


def _is_commentary(line: str) -> bool:
    """A line about the poem rather than of it: a title, a preamble, or the model talking
    about the rules it was given ("The poem should have 11 syllables.")."""
    opening = re.match(r"^(title|here is|here's|sure|certainly|poem:|#)", line, re.IGNORECASE)
    return bool(opening or _RULE_TALK.search(line))


def best_candidate(loaded: LoadedCausalLM, messages: Messages, plan: Plan, seed: int) -> str:
    """The sampled poem that meets most of its form."""
    candidates = [
        fit_lines(reply, plan)
        for reply in sample_clean(loaded, messages, count=CANDIDATES, seed=seed)
    ]
    return max(candidates, key=lambda poem: check(poem, plan.form).score)


def repair(
    loaded: LoadedCausalLM,
    poem: str,
    plan: Plan,
    seed: int,
    context: ToolContext,
    *,
    locked: tuple[int, ...] = (),
) -> str:
    """Regenerate failing lines (not the locked ones), keeping a variant only when the whole
    poem then meets more of its form."""
    for round_number in range(REPAIR_ROUNDS):
        result = check(poem, plan.form)
        targets = [n for n in _lines_to_repair(result, plan) if n not in locked]
        if result.ok or not targets:
            break
        context.progress(0.4 + 0.25 * round_number, f"repairing line {targets[0]}")
        for number in targets:
            context.check()
            poem = _best_line(loaded, poem, number, plan, seed + 1000 * round_number + number)
    return poem


def _lines_to_repair(result: FormCheck, plan: Plan) -> list[int]:
    """The checker's lines at fault, and the lines a short poem lacks (written one after
    another at its end)."""
    missing = range(len(result.lines) + 1, (plan.lines or plan.form.lines[0]) + 1)
    return sorted(set(result.failing_lines) | set(missing))


def _best_line(loaded: LoadedCausalLM, poem: str, number: int, plan: Plan, seed: int) -> str:
    lines = poem.splitlines() if poem.strip() else []
    if number > len(lines) + 1:  # an earlier missing line could not be written
        return poem
    prompt = line_prompt(lines, number, plan)
    variants = sample_clean(loaded, prompt, count=LINE_VARIANTS, seed=seed, sampling=LINE_SAMPLING)
    options = line_options(variants, number, plan)
    anchor = rhyme_partner(lines, number, plan)
    if anchor:
        wanted = wanted_units(plan, number)
        options += rhymed_lines(loaded, prompt, options, anchor, wanted, plan.lang)
    best, best_score = poem, check(poem, plan.form).score
    for variant in options:
        trial = with_line(lines, number, variant)
        score = check(trial, plan.form).score
        if score > best_score:
            best, best_score = trial, score
    return best


def with_line(lines: list[str], number: int, line: str) -> str:
    """The poem with line `number` replaced (or, one past the end, added)."""
    return "\n".join([*lines[: number - 1], line, *lines[number:]])


def line_options(variants: list[str], number: int, plan: Plan) -> list[str]:
    """Each variant's first line, and its word-prefixes that meet the line's count exactly
    (a budget on length, as constrained decoding would impose)."""
    firsts = [fit_lines(v, replace(plan, lines=1)) for v in variants]
    options = [line for line in firsts if line]
    wanted = wanted_units(plan, number)
    if wanted is None:
        return options
    return options + [p for line in options for p in _prefixes_meeting(line, wanted, plan.lang)]


def _prefixes_meeting(line: str, wanted: tuple[int, int], lang: str) -> list[str]:
    if lang == "zh":
        characters = prosody.han_characters(line)
        return ["".join(characters[: wanted[1]])] if len(characters) > wanted[1] else []
    words = line.split()
    prefixes = [
        " ".join(words[:n]).rstrip(",;:—-")
        for n in range(1, len(words))
        if words[n - 1].strip(",;:—-").lower() not in _DANGLING
    ]
    return [
        p
        for p in prefixes
        if any(wanted[0] <= c <= wanted[1] for c in prosody.line_syllable_options(p))
    ]
