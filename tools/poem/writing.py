"""Candidates written inside the form: the one way the poem tool and its revisions call the
constrained decoder (tools/poem/constrained/write.py).

The slots say what each line must be (its count, its rhyme letter, a line kept as it is); a
strict request for a Chinese regulated form adds the tones of the pattern its seed picks
(tools/poem/strict_tones.py), which the decoder then enforces character by character.
"""

from __future__ import annotations

from tools.contract import ToolContext
from tools.models.text import LoadedCausalLM
from tools.poem.constrained.rows import ToneOf
from tools.poem.constrained.spec import PoemSpec, Slot
from tools.poem.constrained.write import write
from tools.poem.plan import Plan
from tools.poem.prompts import Messages
from tools.poem.strict_tones import strict_pattern, tone_of, with_tones

# Candidates per new poem, ranked by form and topic (tools/poem/rank.py); fewer for a
# revision's lines, where the rest of the poem is fixed.
CANDIDATES = 4
LINE_CANDIDATES = 2


def candidates(
    loaded: LoadedCausalLM,
    messages: Messages,
    plan: Plan,
    slots: tuple[Slot, ...],
    seed: int,
    context: ToolContext,
    *,
    strict: bool = False,
    count: int = CANDIDATES,
) -> list[str]:
    """`count` poems for the slots, in one batch (row r sampled with seed + r)."""
    spec, tones = poem_spec(plan, slots, seed, strict)
    return write(loaded, messages, spec, seed, context, count=count, tone_of=tones)


def poem_spec(
    plan: Plan, slots: tuple[Slot, ...], seed: int, strict: bool
) -> tuple[PoemSpec, ToneOf]:
    """The decoder's spec, with the tone pattern and its reader where strict applies."""
    pattern = strict_pattern(plan.form, seed) if strict else None
    if pattern is None:
        return PoemSpec(plan.lang, slots, strict=False), None
    return PoemSpec(plan.lang, with_tones(slots, pattern), strict=True), tone_of
