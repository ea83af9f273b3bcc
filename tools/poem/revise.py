"""Revising the poem in focus: the lines a change names, one more stanza, or the whole poem.

What to change arrives as fields (PoemArgs.change_lines, add_stanza; the words were read in
tools/poem/intents.py); the instruction itself goes to the model as it was said. Every line a
revision writes is written inside the form, as a new poem's are (tools/poem/writing.py):

  named lines   the poem's other lines kept as they are (kept_slots), the named ones written
                in one pass to their counts, rhyming with the kept lines of their letter
  a stanza      the poem's lines kept, a stanza after them in the form's line counts, its
                rhyme letters continuing the scheme with letters of its own
  anything else the whole poem written again in its form, the change in the prompt

Candidates are ranked as a new poem's are (tools/poem/rank.py): form, then closeness to the
poem's subject (not to the instruction: "make it darker" is not what the poem is about).
"""

from __future__ import annotations

import string
from dataclasses import dataclass, replace

from tools.contract import FocusArtifact, ToolContext
from tools.models.text import LoadedCausalLM
from tools.poem import prosody
from tools.poem.constrained.spec import OPEN_CHARACTERS, OPEN_SYLLABLES, Slot
from tools.poem.constrained.write import form_slots, kept_slots
from tools.poem.forms import FORMS
from tools.poem.plan import Plan, form_or_free_verse, line_count
from tools.poem.prompts import STANZA_LINES, lines_prompt, revision_prompt, stanza_prompt
from tools.poem.rank import Ranked, best_poem, embedder_of
from tools.poem.topic import TopicScore
from tools.poem.writing import CANDIDATES, LINE_CANDIDATES, candidates

# A stanza repeats a short form whole (a haiku's 3 lines, a limerick's 5); a longer one
# gets STANZA_LINES lines in its first lines' counts.
WHOLE_FORM_STANZA = 5


@dataclass(frozen=True)
class Change:
    """What a revision is asked to do."""

    instruction: str
    lines: tuple[int, ...] = ()  # rewrite only these lines
    add_stanza: bool = False
    strict: bool = False  # keep the 平仄 pattern (a strict poem's revisions stay strict)


@dataclass(frozen=True)
class Revised:
    plan: Plan
    poem: str
    changed: str  # for the note: "changed line 2", "added a stanza of 4 lines"
    topic: TopicScore | None = None


def subject_of(focus: FocusArtifact) -> str:
    """What the poem in focus is about: the subject its topic was measured against, else
    the picture it was made from, else its request."""
    for key in ("subject", "picture_description"):
        if focus.params.get(key):
            return str(focus.params[key])
    return focus.prompt


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
        ranked = _rewrite_lines(loaded, old, named, change, plan, seed, context, subject_of(focus))
        return Revised(plan, ranked.poem, what_changed(old, ranked.poem), ranked.topic)
    if change.add_stanza:
        return _with_stanza(loaded, old, change, plan, seed, context, subject_of(focus))
    return _rewrite_all(loaded, old, change, plan, seed, context, subject_of(focus))


def _rewrite_lines(
    loaded: LoadedCausalLM,
    old: str,
    numbers: tuple[int, ...],
    change: Change,
    plan: Plan,
    seed: int,
    context: ToolContext,
    subject: str,
) -> Ranked:
    """The named lines (numbered as the poem's lines, blank ones included) written again;
    every other line, and each stanza break, kept."""
    lines = old.splitlines()
    verse = [i for i, line in enumerate(lines) if line.strip()]  # raw index of each verse line
    rewrite = [verse.index(n - 1) + 1 for n in numbers if n - 1 in verse]
    if not rewrite:  # only blank lines were named: nothing to write
        return Ranked(old, None)
    content = [lines[i] for i in verse]
    slots = kept_slots(plan, content, rewrite)
    prompt = lines_prompt(lines, numbers, plan, instruction=change.instruction)
    written = candidates(
        loaded, prompt, plan, slots, seed, context, strict=change.strict, count=LINE_CANDIDATES
    )
    poems = [_with_breaks(lines, verse, poem.splitlines()) for poem in written]
    return best_poem(poems, plan.form, subject, embedder_of(context.models), strict=change.strict)


def _with_breaks(lines: list[str], verse: list[int], written: list[str]) -> str:
    """The written verse lines put back where the poem's verse lines were."""
    out = list(lines)
    for raw, line in zip(verse, written, strict=False):
        out[raw] = line
    return "\n".join(out)


def _with_stanza(
    loaded: LoadedCausalLM,
    old: str,
    change: Change,
    plan: Plan,
    seed: int,
    context: ToolContext,
    subject: str,
) -> Revised:
    """The poem and one more stanza; a poem grown past its form's length is free verse now."""
    content = [line for line in old.splitlines() if line.strip()]
    kept = tuple(Slot(_open(plan.lang), "-", line) for line in content)
    stanza = stanza_slots(plan)
    prompt = stanza_prompt(old, change.instruction, plan.lang, len(stanza))
    written = candidates(loaded, prompt, plan, kept + stanza, seed, context, count=LINE_CANDIDATES)
    poems = [old + "\n\n" + "\n".join(p.splitlines()[len(content) :]) for p in written]
    grown = replace(plan, form=FORMS["free verse"])
    if plan.form.lines[1] >= len(content) + len(stanza):
        grown = plan
    ranked = best_poem(poems, grown.form, subject, embedder_of(context.models))
    added = len(ranked.poem.splitlines()) - len(old.splitlines()) - 1
    return Revised(grown, ranked.poem, f"added a stanza of {added} lines", ranked.topic)


def stanza_slots(plan: Plan) -> tuple[Slot, ...]:
    """A stanza's lines: a short form's own lines, else STANZA_LINES in the form's first
    counts, its rhymes on fresh letters in the scheme's order (ABAB after ABAB is CDCD)."""
    form = plan.form
    low, high = form.lines
    count = low if low == high and low <= WHOLE_FORM_STANZA else STANZA_LINES
    units = form.line_units or ()
    scheme = form.rhyme_schemes[0] if form.rhyme_schemes else ""
    fresh = iter(letter for letter in string.ascii_uppercase if letter not in scheme)
    renamed: dict[str, str] = {}
    slots = []
    for i in range(count):
        letter = scheme[i % len(scheme)] if scheme else "-"
        if letter != "-":
            letter = renamed.setdefault(letter, next(fresh))
        window = units[i % len(units)] if units else _open(plan.lang)
        slots.append(Slot(window, letter))
    return tuple(slots)


def _open(lang: str) -> tuple[int, int]:
    return OPEN_CHARACTERS if lang == "zh" else OPEN_SYLLABLES


def _rewrite_all(
    loaded: LoadedCausalLM,
    old: str,
    change: Change,
    plan: Plan,
    seed: int,
    context: ToolContext,
    subject: str,
) -> Revised:
    """The whole poem written again in its form (free verse: as many lines as it had)."""
    verse_lines = len([line for line in old.splitlines() if line.strip()])
    low, high = plan.form.lines
    sized = plan if low == high else replace(plan, lines=min(max(verse_lines, low), high))
    written = candidates(
        loaded,
        revision_prompt(old, change.instruction, plan),
        sized,
        form_slots(sized, line_count(sized)),
        seed,
        context,
        strict=change.strict,
        count=CANDIDATES,
    )
    ranked = best_poem(
        written, plan.form, subject, embedder_of(context.models), strict=change.strict
    )
    return Revised(plan, ranked.poem, what_changed(old, ranked.poem), ranked.topic)


def what_changed(old: str, new: str) -> str:
    before, after = old.splitlines(), new.splitlines()
    changed = [i + 1 for i, line in enumerate(after) if i >= len(before) or line != before[i]]
    if not changed and len(after) == len(before):
        return "nothing changed"
    if len(changed) == 1:
        return f"changed line {changed[0]}"
    return f"rewrote {len(changed)} of {len(after)} lines"
