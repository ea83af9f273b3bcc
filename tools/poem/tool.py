"""The poem tool: poems in English and Chinese, in forms that really scan, and revisions.

A new poem: sample several candidates from the poem model, check each against its form
(tools/poem/forms.py), take the best, then regenerate only its failing lines with the rule
stated, keeping a new line only when it makes the poem meet more of the form. A line that must
rhyme also gets endings chosen among real rhymes (tools/poem/rhyme_endings.py). The person is
told in one line what the checker confirmed, never the form that was merely asked for.

A revision of the poem in focus: a change to named lines rewrites those lines only; "add a
stanza" appends one; any other instruction rewrites the poem in its form. Lines the change
did not touch are kept as they were, and the note says what changed.
"""

from __future__ import annotations

import re
import secrets
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from pydantic import Field, field_validator

from tools.catalog import POEM
from tools.contract import ArtifactDraft, ArtifactKind, FocusArtifact, Tool, ToolArgs, ToolContext
from tools.models.loading import LoadedCausalLM
from tools.models.sampling import Sampling, sample
from tools.poem import prosody
from tools.poem.forms import (
    ALIASES,
    FORM_CHOICES,
    FORMS,
    Form,
    FormCheck,
    UnknownForm,
    check,
    find_form,
    form_name,
)
from tools.poem.rhyme_endings import rhymed_lines

MODEL_ROLE = "poem"
CANDIDATES = 4
LINE_VARIANTS = 6
REPAIR_ROUNDS = 2
STANZA_LINES = 4
# "2: " or "2. " before a line: the model copying how the repair prompt numbers lines.
_LINE_NUMBER = re.compile(r"^\s*(?:\d+\s*[:.)]\s*)+")
_RULE_TALK = re.compile(r"\b(syllables?|rhyme scheme|the poem should)\b|音节|押韵", re.IGNORECASE)
# A line cut after one of these words reads as cut off.
_DANGLING = frozenset(
    [
        "a",
        "an",
        "the",
        "and",
        "or",
        "but",
        "of",
        "to",
        "in",
        "on",
        "at",
        "by",
        "for",
        "with",
        "from",
        "my",
        "your",
        "his",
        "her",
        "its",
        "our",
        "their",
        "is",
        "are",
        "was",
        "were",
        "be",
        "as",
        "that",
        "this",
    ]
)


class PoemArgs(ToolArgs):
    prompt: str = Field(
        description="what the poem is about, or how to change the poem in focus",
        min_length=1,
        max_length=1000,
    )
    form: str | None = Field(
        None,
        description="haiku, tanka, limerick, quatrain, sonnet, free verse, 五言绝句, 七言绝句, "
        "五言律诗 or 七言律诗 (default: the one the request names, else free verse)",
        json_schema_extra={"choices": FORM_CHOICES},
    )
    lang: Literal["en", "zh"] | None = Field(None, description="en or zh (default: the request's)")
    tone: str | None = Field(
        None, max_length=100, description="the emotion, e.g. bitter but tender"
    )
    style: str | None = Field(
        None,
        max_length=300,
        description="style notes: imagery to use or avoid, in the manner of ...",
    )
    lines: int | None = Field(None, ge=1, description="lines, where the form leaves it open")
    seed: int | None = Field(None, ge=0, le=2**31 - 1, description="the random seed")
    revise: bool | None = Field(
        None, description="revise the poem in focus (default: when the request asks for a change)"
    )

    @field_validator("form")
    @classmethod
    def _known_form(cls, value: str | None) -> str | None:
        return None if value is None else form_name(value)


@dataclass(frozen=True)
class Plan:
    """What to write: the form, language and length, and any note about adjusted requests."""

    form: Form
    lang: str
    lines: int | None
    notes: tuple[str, ...] = ()


def write_poem(args: PoemArgs, context: ToolContext) -> ArtifactDraft:
    loaded = context.models.get(MODEL_ROLE)
    seed = args.seed if args.seed is not None else _fresh_seed()
    focus = context.focus
    if focus is not None and focus.kind is ArtifactKind.POEM and _revising(args, focus):
        return revise(loaded, args, focus, seed, context)
    tasted = with_taste(args, context.kept)
    plan = plan_poem(tasted)
    if tasted != args:
        plan = replace(plan, notes=(*plan.notes, f"as in your kept poems: {_taste_words(tasted)}"))
    args = tasted
    context.progress(0.05, "writing candidates")
    candidates = [
        fit_lines(c, plan)
        for c in sample_clean(loaded, poem_prompt(args, plan), count=CANDIDATES, seed=seed)
    ]
    context.check()
    best = max(candidates, key=lambda poem: check(poem, plan.form).score)
    best = repair(loaded, best, plan, seed, context, locked=())
    return _draft(args, plan, best, seed, loaded, from_focus=False, changed=None)


def with_taste(args: PoemArgs, kept: Sequence[Mapping[str, Any]]) -> PoemArgs:
    """The person's kept poems offer a form and a tone where the request names none."""
    if not kept:
        return args
    form = args.form
    if form is None and _named_form(args.prompt).name == "free verse":
        form = str(kept[0].get("form") or "") or None
    tones = Counter(str(p["tone"]) for p in kept if p.get("tone"))
    tone = args.tone or (tones.most_common(1)[0][0] if tones else None)
    return args.model_copy(update={"form": form, "tone": tone})


def _taste_words(args: PoemArgs) -> str:
    return ", ".join(part for part in (args.form, args.tone) if part)


def plan_poem(args: PoemArgs) -> Plan:
    form = find_form(args.form) if args.form else _named_form(args.prompt)
    lang = args.lang or form.language or ("zh" if prosody.is_chinese(args.prompt) else "en")
    if form.name == "free verse" and args.lines is not None:
        low, high = form.lines
        lines = min(max(args.lines, low), high)
        note = (
            () if lines == args.lines else (f"{args.lines} lines is out of range; wrote {lines}",)
        )
        return Plan(form, lang, lines, note)
    note = () if args.lines is None else (f"a {form.label} has its own length; lines= was ignored",)
    return Plan(form, lang, None, note)


def _named_form(prompt: str) -> Form:
    """The form a request names ("a haiku about ..."), else free verse."""
    names = {**{name: name for name in FORMS}, **ALIASES}
    for typed, name in sorted(names.items(), key=lambda item: -len(item[0])):
        if re.search(rf"(?<!\w){re.escape(typed)}(?!\w)", prompt, re.IGNORECASE):
            return FORMS[name]
    return FORMS["free verse"]


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


def repair(
    loaded: LoadedCausalLM,
    poem: str,
    plan: Plan,
    seed: int,
    context: ToolContext,
    *,
    locked: tuple[int, ...],
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
    prompt = _line_prompt(lines, number, plan)
    variants = sample_clean(
        loaded, prompt, count=LINE_VARIANTS, seed=seed, sampling=Sampling(max_new_tokens=40)
    )
    options = _line_options(variants, number, plan)
    anchor = _rhyme_partner(lines, number, plan)
    if anchor:
        wanted = _wanted_units(plan, number)
        options += rhymed_lines(loaded, prompt, options, anchor, wanted, plan.lang)
    best, best_score = poem, check(poem, plan.form).score
    for variant in options:
        trial = "\n".join([*lines[: number - 1], variant, *lines[number:]])
        score = check(trial, plan.form).score
        if score > best_score:
            best, best_score = trial, score
    return best


def _line_options(variants: list[str], number: int, plan: Plan) -> list[str]:
    """Each variant's first line, and its word-prefixes that meet the line's count exactly
    (a budget on length, as constrained decoding would impose)."""
    firsts = [fit_lines(v, replace(plan, lines=1)) for v in variants]
    options = [line for line in firsts if line]
    wanted = _wanted_units(plan, number)
    if wanted is None:
        return options
    return options + [p for line in options for p in _prefixes_meeting(line, wanted, plan.lang)]


def _wanted_units(plan: Plan, number: int) -> tuple[int, int] | None:
    units = plan.form.line_units
    return units[number - 1] if units and number <= len(units) else None


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


def revise(
    loaded: LoadedCausalLM, args: PoemArgs, focus: FocusArtifact, seed: int, context: ToolContext
) -> ArtifactDraft:
    old = (focus.text or "").strip()
    form = _form_of(focus)
    lang = str(focus.params.get("lang") or ("zh" if prosody.is_chinese(old) else "en"))
    plan = Plan(form, lang, None)
    named = _named_lines(args.prompt, len(old.splitlines()))
    context.progress(0.1, "revising")
    if named:
        new, changed = _rewrite_lines(loaded, old, named, args, plan, seed), None
    elif re.search(r"\b(add|another|new)\b.*\bstanza\b", args.prompt, re.IGNORECASE):
        stanza = _new_stanza(loaded, old, args, lang, seed)
        new, changed = old + "\n\n" + stanza, f"added a stanza of {len(stanza.splitlines())} lines"
        plan = (
            replace(plan, form=FORMS["free verse"])
            if form.lines[1] < len(new.splitlines())
            else plan
        )
    else:
        replies = sample_clean(
            loaded, _revision_prompt(old, args, plan), count=CANDIDATES, seed=seed
        )
        rewrites = [
            fit_lines(reply, replace(plan, lines=len(old.splitlines()))) for reply in replies
        ]
        new = max(rewrites, key=lambda poem: (check(poem, form).score, _kept_share(old, poem)))
        new = repair(loaded, new, plan, seed, context, locked=())
        changed = None
    return _draft(
        args, plan, new, seed, loaded, from_focus=True, changed=changed or _what_changed(old, new)
    )


def _form_of(focus: FocusArtifact) -> Form:
    """The focus poem's form, or free verse for one whose form this tool does not know."""
    try:
        return find_form(str(focus.params.get("form", "free verse")))
    except UnknownForm:
        return FORMS["free verse"]


def _revising(args: PoemArgs, focus: FocusArtifact) -> bool:
    if args.revise is not None:
        return args.revise
    instruction = args.prompt.lower()
    if f"#{focus.number}" in instruction:
        return True
    return bool(
        re.search(
            r"\b(make it|make the|darker|lighter|brighter|sadder|happier|shorter|longer|add|change|"
            r"rewrite|revise|replace|remove|instead|line \d+|stanza|more|less)\b",
            instruction,
        )
    )


def _named_lines(instruction: str, count: int) -> tuple[int, ...]:
    numbers = [int(n) for n in re.findall(r"\bline (\d+)", instruction, re.IGNORECASE)]
    return tuple(n for n in dict.fromkeys(numbers) if 1 <= n <= count)


def _rewrite_lines(
    loaded: LoadedCausalLM,
    old: str,
    numbers: tuple[int, ...],
    args: PoemArgs,
    plan: Plan,
    seed: int,
) -> str:
    poem = old
    for number in numbers:
        lines = poem.splitlines()
        prompt = _line_prompt(lines, number, plan, instruction=args.prompt)
        variants = sample_clean(
            loaded,
            prompt,
            count=LINE_VARIANTS,
            seed=seed + number,
            sampling=Sampling(max_new_tokens=40),
        )
        options = _line_options(variants, number, plan) or [lines[number - 1]]
        trials = ["\n".join([*lines[: number - 1], v, *lines[number:]]) for v in options]
        poem = max(trials, key=lambda trial: check(trial, plan.form).score)
    return poem


def _new_stanza(loaded: LoadedCausalLM, old: str, args: PoemArgs, lang: str, seed: int) -> str:
    prompt = [
        {"role": "system", "content": _poet(lang)},
        {
            "role": "user",
            "content": (
                f"Here is a poem:\n{old}\n\nWrite one more stanza of {STANZA_LINES} lines "
                f"for it: {args.prompt}. Reply with the new stanza only."
            ),
        },
    ]
    replies = sample_clean(loaded, prompt, count=CANDIDATES, seed=seed)
    stanzas = [fit_lines(r, Plan(FORMS["free verse"], lang, STANZA_LINES)) for r in replies]
    return max(stanzas, key=lambda s: len(s.splitlines())) or "…"


def _kept_share(old: str, new: str) -> float:
    kept = set(old.splitlines())
    lines = new.splitlines()
    return sum(line in kept for line in lines) / max(len(lines), 1)


def _what_changed(old: str, new: str) -> str:
    before, after = old.splitlines(), new.splitlines()
    changed = [i + 1 for i, line in enumerate(after) if i >= len(before) or line != before[i]]
    if not changed and len(after) == len(before):
        return "nothing changed"
    if len(changed) == 1:
        return f"changed line {changed[0]}"
    return f"rewrote {len(changed)} of {len(after)} lines"


def _draft(
    args: PoemArgs,
    plan: Plan,
    poem: str,
    seed: int,
    loaded: LoadedCausalLM,
    *,
    from_focus: bool,
    changed: str | None,
) -> ArtifactDraft:
    result = check(poem, plan.form)
    note = " · ".join([*([changed] if changed else []), result.summary(), *plan.notes])
    params = {
        "model": loaded.spec,
        "seed": seed,
        "form": plan.form.name,
        "lang": plan.lang,
        "tone": args.tone,
        "style": args.style,
        "form_met": result.ok,
        "check": result.summary(),
    }
    return ArtifactDraft(
        ArtifactKind.POEM, text=poem or "…", params=params, from_focus=from_focus, note=note
    )


def _poet(lang: str) -> str:
    if lang == "zh":
        return "你是一位诗人。只写诗，不写标题，不解释。"
    return "You are a poet. Reply with the poem only: no title, no explanation."


def _rules(plan: Plan) -> str:
    form = plan.form
    parts = [f"a {form.label}"]
    if form.line_units:
        counts = ", ".join(
            str(low) if low == high else f"{low}-{high}" for low, high in form.line_units
        )
        parts.append(f"{len(form.line_units)} lines of {counts} {form.unit}")
    elif plan.lines:
        parts.append(f"{plan.lines} lines")
    if form.rhyme_schemes:
        parts.append(f"rhyme scheme {' or '.join(form.rhyme_schemes)}".replace("-", "x"))
    return ", ".join(parts)


def poem_prompt(args: PoemArgs, plan: Plan) -> list[dict[str, str]]:
    asks = [f"Write {_rules(plan)}.", f"Subject: {args.prompt}"]
    if args.tone:
        asks.append(f"Tone: {args.tone}.")
    if args.style:
        asks.append(f"Style: {args.style}.")
    return [
        {"role": "system", "content": _poet(plan.lang)},
        {"role": "user", "content": "\n".join(asks)},
    ]


def _revision_prompt(old: str, args: PoemArgs, plan: Plan) -> list[dict[str, str]]:
    ask = (
        f"Here is a poem ({_rules(plan)}):\n{old}\n\nRevise it: {args.prompt}. "
        "Keep what this does not ask to change. Reply with the whole poem only."
    )
    return [{"role": "system", "content": _poet(plan.lang)}, {"role": "user", "content": ask}]


def _line_prompt(
    lines: list[str], number: int, plan: Plan, instruction: str | None = None
) -> list[dict[str, str]]:
    wanted = _wanted_units(plan, number)
    rule = []
    if wanted:
        low, high = wanted
        rule.append(
            f"exactly {low} {plan.form.unit}"
            if low == high
            else f"{low} to {high} {plan.form.unit}"
        )
    rhyme_with = _rhyme_partner(lines, number, plan)
    if rhyme_with:
        rule.append(f"ending with a word that rhymes with '{rhyme_with}'")
    ask = instruction or "Rewrite it"
    poem = "\n".join(f"{i + 1}: {line}" for i, line in enumerate(lines))
    text = (
        f"Poem:\n{poem}\n\n{ask}: write a new line {number}"
        + (f" with {' and '.join(rule)}" if rule else "")
        + ". Reply with that one line only."
    )
    return [{"role": "system", "content": _poet(plan.lang)}, {"role": "user", "content": text}]


def _rhyme_partner(lines: list[str], number: int, plan: Plan) -> str | None:
    for scheme in plan.form.rhyme_schemes[:1]:
        if number > len(scheme) or scheme[number - 1] == "-":
            return None
        letter = scheme[number - 1]
        first = scheme.index(letter) + 1
        if first != number and first <= len(lines):
            end = (
                prosody.last_han_character(lines[first - 1])
                if plan.lang == "zh"
                else prosody.last_english_word(lines[first - 1])
            )
            return end
    return None


def sample_clean(
    loaded: LoadedCausalLM, messages: list[dict[str, str]], **options: Any
) -> list[str]:
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


def _fresh_seed() -> int:
    return secrets.randbelow(2**31)


def revision_args(instruction: str) -> PoemArgs:
    """Revise the poem in focus by an instruction (a critique's suggestion, say)."""
    return PoemArgs(prompt=instruction, revise=True)


POEM_TOOL = Tool(
    POEM.name,
    POEM.description,
    ArtifactKind.POEM,
    PoemArgs,
    write_poem,
    examples=POEM.examples,
    revision=revision_args,
)
