"""Revising the poem in focus: the lines a change names, one more stanza, or the whole poem.

What to change arrives as fields (PoemArgs.change_lines, add_stanza; the words were read in
tools/poem/intents.py); the instruction itself goes to the model as it was said. Named lines
are rewritten one by one and the others kept as they were; a stanza is appended; any other
instruction rewrites the poem in its form, preferring the rewrite that keeps most lines.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from tools.contract import FocusArtifact, ToolContext
from tools.models.text import LoadedCausalLM
from tools.poem import prosody
from tools.poem.choose import (
    CANDIDATES,
    LINE_SAMPLING,
    LINE_VARIANTS,
    fit_lines,
    line_options,
    repair,
    sample_clean,
    with_line,
)
from tools.poem.forms import FORMS, check
from tools.poem.plan import Plan, form_or_free_verse
from tools.poem.prompts import STANZA_LINES, line_prompt, revision_prompt, stanza_prompt


@dataclass(frozen=True)
class Change:
    """What a revision is asked to do."""

    instruction: str
    lines: tuple[int, ...] = ()  # rewrite only these lines
    add_stanza: bool = False


@dataclass(frozen=True)
class Revised:
    plan: Plan
    poem: str
    changed: str  # for the note: "changed line 2", "added a stanza of 4 lines"


def revise(
    loaded: LoadedCausalLM, change: Change, focus: FocusArtifact, seed: int, context: ToolContext
) -> Revised:
    old = (focus.text or "").strip()
    form = form_or_free_verse(str(focus.params.get("form") or ""))
    lang = str(focus.params.get("lang") or ("zh" if prosody.is_chinese(old) else "en"))
    plan = Plan(form, lang, None)
    # Lines the poem does not have cannot be rewritten: a change naming them rewrites the rest.
    named = tuple(n for n in dict.fromkeys(change.lines) if n <= len(old.splitlines()))
    context.progress(0.1, "revising")
    if named:
        new = _rewrite_lines(loaded, old, named, change.instruction, plan, seed)
        return Revised(plan, new, what_changed(old, new))
    if change.add_stanza:
        return _with_stanza(loaded, old, change.instruction, plan, seed)
    replies = sample_clean(
        loaded, revision_prompt(old, change.instruction, plan), count=CANDIDATES, seed=seed
    )
    rewrites = [fit_lines(reply, replace(plan, lines=len(old.splitlines()))) for reply in replies]
    new = max(rewrites, key=lambda poem: (check(poem, form).score, _kept_share(old, poem)))
    new = repair(loaded, new, plan, seed, context)
    return Revised(plan, new, what_changed(old, new))


def _rewrite_lines(
    loaded: LoadedCausalLM,
    old: str,
    numbers: tuple[int, ...],
    instruction: str,
    plan: Plan,
    seed: int,
) -> str:
    poem = old
    for number in numbers:
        lines = poem.splitlines()
        prompt = line_prompt(lines, number, plan, instruction=instruction)
        variants = sample_clean(
            loaded, prompt, count=LINE_VARIANTS, seed=seed + number, sampling=LINE_SAMPLING
        )
        options = line_options(variants, number, plan) or [lines[number - 1]]
        trials = [with_line(lines, number, variant) for variant in options]
        poem = max(trials, key=lambda trial: check(trial, plan.form).score)
    return poem


def _with_stanza(
    loaded: LoadedCausalLM, old: str, instruction: str, plan: Plan, seed: int
) -> Revised:
    """The poem and one more stanza; a poem grown past its form's length is free verse now."""
    replies = sample_clean(
        loaded, stanza_prompt(old, instruction, plan.lang), count=CANDIDATES, seed=seed
    )
    stanza_plan = Plan(FORMS["free verse"], plan.lang, STANZA_LINES)
    stanzas = [fit_lines(reply, stanza_plan) for reply in replies]
    stanza = max(stanzas, key=lambda s: len(s.splitlines())) or "…"
    new = old + "\n\n" + stanza
    if plan.form.lines[1] < len(new.splitlines()):
        plan = replace(plan, form=FORMS["free verse"])
    return Revised(plan, new, f"added a stanza of {len(stanza.splitlines())} lines")


def _kept_share(old: str, new: str) -> float:
    kept = set(old.splitlines())
    lines = new.splitlines()
    return sum(line in kept for line in lines) / max(len(lines), 1)


def what_changed(old: str, new: str) -> str:
    before, after = old.splitlines(), new.splitlines()
    changed = [i + 1 for i, line in enumerate(after) if i >= len(before) or line != before[i]]
    if not changed and len(after) == len(before):
        return "nothing changed"
    if len(changed) == 1:
        return f"changed line {changed[0]}"
    return f"rewrote {len(changed)} of {len(after)} lines"
