"""Writing poems and lines with constrained decoding: the form's slots from a plan, the
prompt's ids, and the work sent through the model's line (the tool run's scheduler, so
other people's candidates can share the batch and a cancel stops it between steps)."""

from __future__ import annotations

from collections.abc import Sequence

from tools.contract import ToolContext
from tools.models.sampling import _token_ids
from tools.models.text import LoadedCausalLM
from tools.models.text_batches import TextModel
from tools.poem.constrained.decode import Job, Sampling, constrained_work
from tools.poem.constrained.rows import ToneOf
from tools.poem.constrained.spec import OPEN_CHARACTERS, OPEN_SYLLABLES, PoemSpec, Slot
from tools.poem.plan import Plan
from tools.poem.prompts import Messages
from tools.scheduling.current import through_the_line

CANDIDATES = 4


def form_slots(plan: Plan, count: int | None = None) -> tuple[Slot, ...]:
    """Empty slots for the plan's lines: each line's count and rhyme letter."""
    form = plan.form
    lines = count or plan.lines or form.lines[0]
    scheme = form.rhyme_schemes[0] if form.rhyme_schemes else ""
    open_window = OPEN_CHARACTERS if plan.lang == "zh" else OPEN_SYLLABLES
    return tuple(
        Slot(
            form.line_units[i] if form.line_units and i < len(form.line_units) else open_window,
            scheme[i] if i < len(scheme) else "-",
        )
        for i in range(lines)
    )


def kept_slots(plan: Plan, lines: Sequence[str], rewrite: Sequence[int]) -> tuple[Slot, ...]:
    """The poem's own lines kept, except the 1-based `rewrite` ones, left to write."""
    empty = form_slots(plan, len(lines))
    return tuple(
        Slot(slot.window, slot.letter, None if i + 1 in rewrite else lines[i], slot.tones)
        for i, slot in enumerate(empty)
    )


def write(
    loaded: LoadedCausalLM,
    messages: Messages,
    spec: PoemSpec,
    seed: int,
    context: ToolContext,
    *,
    count: int = CANDIDATES,
    tone_of: ToneOf = None,
    sampling: Sampling = Sampling(),  # noqa: B008 - frozen, shared safely
) -> list[str]:
    """`count` poems (kept lines and written ones, one per line), in one batch."""
    tokenizer = loaded.tokenizer
    chat = [dict(message) for message in messages]
    rendered = tokenizer.apply_chat_template(chat, add_generation_prompt=True, tokenize=True)

    def on_line(line: int, lines: int) -> None:
        context.progress(0.1 + 0.8 * (line - 1) / max(lines, 1), f"writing line {line} of {lines}")

    job = Job(tuple(_token_ids(rendered)), count, seed, spec, tone_of, on_line)
    text_model = TextModel(loaded.model, tokenizer, loaded.device, loaded.lock)
    work = constrained_work(text_model, job, sampling, lambda _done, _total: context.check())
    return through_the_line(work)
