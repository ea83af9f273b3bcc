"""What the poem model is asked: a new poem, a revised one, one line, one more stanza.

Each prompt states the form's rules in numbers (lines, syllables or characters, rhyme scheme),
since a small model follows "5-7-5 syllables" better than the name "haiku" alone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tools.poem.plan import Plan, rhyme_partner, wanted_units

if TYPE_CHECKING:
    from tools.poem.tool import PoemArgs

Messages = list[dict[str, str]]
STANZA_LINES = 4


def poet(lang: str) -> str:
    if lang == "zh":
        return "你是一位诗人。只写诗，不写标题，不解释。"
    return "You are a poet. Reply with the poem only: no title, no explanation."


def rules(plan: Plan) -> str:
    """The form in numbers: "a haiku, 3 lines of 5, 7, 5 syllables"."""
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


def poem_prompt(args: PoemArgs, plan: Plan) -> Messages:
    asks = [f"Write {rules(plan)}.", f"Subject: {args.prompt}"]
    if args.tone:
        asks.append(f"Tone: {args.tone}.")
    if args.style:
        asks.append(f"Style: {args.style}.")
    return [
        {"role": "system", "content": poet(plan.lang)},
        {"role": "user", "content": "\n".join(asks)},
    ]


def revision_prompt(old: str, instruction: str, plan: Plan) -> Messages:
    ask = (
        f"Here is a poem ({rules(plan)}):\n{old}\n\nRevise it: {instruction}. "
        "Keep what this does not ask to change. Reply with the whole poem only."
    )
    return [{"role": "system", "content": poet(plan.lang)}, {"role": "user", "content": ask}]


def stanza_prompt(old: str, instruction: str, lang: str) -> Messages:
    ask = (
        f"Here is a poem:\n{old}\n\nWrite one more stanza of {STANZA_LINES} lines "
        f"for it: {instruction}. Reply with the new stanza only."
    )
    return [{"role": "system", "content": poet(lang)}, {"role": "user", "content": ask}]


def line_prompt(
    lines: list[str], number: int, plan: Plan, instruction: str | None = None
) -> Messages:
    """Ask for line `number` again, with its count and the word it must rhyme with."""
    wanted = wanted_units(plan, number)
    rule = []
    if wanted:
        low, high = wanted
        rule.append(
            f"exactly {low} {plan.form.unit}"
            if low == high
            else f"{low} to {high} {plan.form.unit}"
        )
    rhyme_with = rhyme_partner(lines, number, plan)
    if rhyme_with:
        rule.append(f"ending with a word that rhymes with '{rhyme_with}'")
    ask = instruction or "Rewrite it"
    poem = "\n".join(f"{i + 1}: {line}" for i, line in enumerate(lines))
    text = (
        f"Poem:\n{poem}\n\n{ask}: write a new line {number}"
        + (f" with {' and '.join(rule)}" if rule else "")
        + ". Reply with that one line only."
    )
    return [{"role": "system", "content": poet(plan.lang)}, {"role": "user", "content": text}]
