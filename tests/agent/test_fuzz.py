"""Generated hostile input through the real agent (tests/support/fuzzing.py): no exception
escapes Agent.respond, every reply fits one Discord message, nothing is half-stored, nothing
unclean is stored, and no failure had to be apologised for.

A few hundred inputs, derandomized so every run (and CI) sees the same ones; bench/fuzz.py
runs the same property on ten thousand. The second test takes the boundary away and expects
the fuzz to find what it fixed, so that a fuzz that stopped reaching anything would show.
"""

from __future__ import annotations

import asyncio

import pytest

from agent.types import Turn
from tests.support.fuzzing import (
    REPLY_LIMIT,
    FuzzRouter,
    Harness,
    ModelsNotHere,
    Tally,
    fuzz_tools,
    run_fuzz,
)
from tests.support.workshop import MakeWorkshop

EXAMPLES = 400


async def fuzz(make_studio: MakeWorkshop, *, examples: int, strict: bool) -> Tally:
    workshop = make_studio(fuzz_tools(), router=FuzzRouter(), models=ModelsNotHere())
    harness = Harness(workshop)
    loop = asyncio.get_running_loop()
    try:
        # Hypothesis runs in a thread; each turn runs here, on the loop the database is on.
        await asyncio.to_thread(
            run_fuzz, harness, loop, examples=examples, derandomize=True, strict=strict
        )
        left = await harness.finish()
    finally:
        harness.close()
        await workshop.agent.close()
    assert not (strict and left), left
    return harness.tally


async def test_generated_input_is_answered_and_nothing_is_half_stored(
    make_studio: MakeWorkshop,
) -> None:
    tally = await fuzz(make_studio, examples=EXAMPLES, strict=True)
    assert tally.inputs >= EXAMPLES
    assert (tally.unhandled, tally.half_stored, tally.unclean, tally.apologies) == (0, 0, 0, 0)
    assert 0 < tally.longest_reply < REPLY_LIMIT


async def test_without_the_boundary_the_fuzz_finds_what_it_fixed(
    make_studio: MakeWorkshop, monkeypatch: pytest.MonkeyPatch, database_url: str
) -> None:
    def admit_anything(turn: Turn, *, text_limit: int) -> Turn:
        return turn

    monkeypatch.setattr("agent.turns.admit", admit_anything)
    tally = await fuzz(make_studio, examples=EXAMPLES, strict=False)
    # Lone surrogates raise in the tokenizer; SQLite stores NULs and controls, where
    # PostgreSQL refuses their rows (another exception); long file names come back whole.
    assert tally.unhandled > 0 and tally.bad_replies > 0
    assert tally.unclean > 0 or not database_url.startswith("sqlite")
