"""What the poem model is asked: a new poem, a revised one, one line, one more stanza.

Each prompt states the form's rules in numbers (lines, syllables or characters, rhyme scheme),
since a small model follows "5-7-5 syllables" better than the name "haiku" alone. A poem in
the person's voice shows a few of their own poems first (ToolContext.voice, theirs only),
each trimmed so the examples leave room for the poem; a poem from a picture has the vision
model's description as its subject, with the person's own words beside it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from tools.poem.plan import Plan, rhyme_partner, wanted_units

if TYPE_CHECKING:
    from tools.poem.tool import PoemArgs

Messages = list[dict[str, str]]
STANZA_LINES = 4
# The person's poems shown as their voice: a few, each cut to this many characters, so
# the examples stay a small share of a small model's context.
VOICE_EXAMPLES = 5
VOICE_CHARACTERS = 300


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


def poem_prompt(
    args: PoemArgs, plan: Plan, *, voice: Sequence[str] = (), picture: str | None = None
) -> Messages:
    """A new poem: the form in numbers, the subject (a picture's description, with the
    person's words, when it is made from one), tone and style, after any voice examples."""
    asks = [f"Write {rules(plan)}."]
    if picture is not None:
        asks.append(f"Subject: the picture: {picture}")
        if args.prompt.strip():
            asks.append(f"As asked: {args.prompt}")
    else:
        asks.append(f"Subject: {args.prompt}")
    if args.tone:
        asks.append(f"Tone: {args.tone}.")
    if args.style:
        asks.append(f"Style: {args.style}.")
    examples = voice_examples(voice)
    if examples:
        asks.insert(0, _voice_intro(plan.lang) + "\n\n" + "\n\n".join(examples) + "\n")
    return [
        {"role": "system", "content": poet(plan.lang)},
        {"role": "user", "content": "\n".join(asks)},
    ]


def voice_examples(voice: Sequence[str]) -> list[str]:
    """The poems shown as the person's voice: the first few, each trimmed at a line."""
    return [_trimmed(poem) for poem in voice[:VOICE_EXAMPLES] if poem.strip()]


def _trimmed(poem: str) -> str:
    text = poem.strip()
    if len(text) <= VOICE_CHARACTERS:
        return text
    cut = text[:VOICE_CHARACTERS]
    return cut[: cut.rfind("\n")] if "\n" in cut else cut


def _voice_intro(lang: str) -> str:
    if lang == "zh":
        return "以下是这位作者自己写的诗。请用他们的口吻和风格写新诗，不要照抄："
    return (
        "These are poems the person wrote. Write in their voice (their words, images and "
        "line lengths), without copying them:"
    )


def revision_prompt(old: str, instruction: str, plan: Plan) -> Messages:
    ask = (
        f"Here is a poem ({rules(plan)}):\n{old}\n\nRevise it: {instruction}. "
        "Keep what this does not ask to change. Reply with the whole poem only."
    )
    return [{"role": "system", "content": poet(plan.lang)}, {"role": "user", "content": ask}]


def stanza_prompt(old: str, instruction: str, lang: str, lines: int = STANZA_LINES) -> Messages:
    ask = (
        f"Here is a poem:\n{old}\n\nWrite one more stanza of {lines} lines "
        f"for it: {instruction}. Reply with the new stanza only."
    )
    return [{"role": "system", "content": poet(lang)}, {"role": "user", "content": ask}]


def lines_prompt(
    lines: list[str], numbers: Sequence[int], plan: Plan, instruction: str | None = None
) -> Messages:
    """Ask for the named lines again, in order: one line as `line_prompt` asks for it."""
    if len(numbers) == 1:
        return line_prompt(lines, numbers[0], plan, instruction)
    ask = instruction or "Rewrite them"
    poem = "\n".join(f"{i + 1}: {line}" for i, line in enumerate(lines))
    named = ", ".join(str(n) for n in numbers)
    text = (
        f"Poem:\n{poem}\n\n{ask}: write new lines {named}, one per line. "
        "Reply with those lines only."
    )
    return [{"role": "system", "content": poet(plan.lang)}, {"role": "user", "content": text}]


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
