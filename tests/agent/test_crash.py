"""A few kill -9s in the middle of image, music and /forget turns (bench/crash.py does 20):
after each restart no piece is without its file, no file without its piece, nothing half-written
is left, no message of the person's is stored without its answer, and a job a kill stopped is
told to its owner when atelier is back."""

from __future__ import annotations

import random
from pathlib import Path

from tests.support.crash import clean_start, consistency, killed_cycle, told_interrupted

KILLS = 3


def test_kills_in_the_middle_of_turns_leave_a_consistent_store(
    tmp_path: Path, models_cache_dir: Path
) -> None:
    rng = random.Random(16)
    data_dir = tmp_path / "data"
    cycles = [killed_cycle(data_dir, models_cache_dir, rng)]
    for _ in range(KILLS - 1):
        told = cycles[-1].left_running
        cycles.append(killed_cycle(data_dir, models_cache_dir, rng, told=told))
    restart = clean_start(data_dir, models_cache_dir, told=cycles[-1].left_running)

    store = consistency(data_dir)
    after_each_restart = [cycle.at_start for cycle in cycles[1:]] + [store]
    assert all(state is not None and state.clean for state in after_each_restart), [
        state for state in after_each_restart if state is None or not state.clean
    ]
    # Kills landed while requests were still unanswered, and some pieces survived: otherwise
    # this test would have checked nothing.
    assert any(cycle.answered < cycle.sent for cycle in cycles), cycles
    assert store.pieces > 0 and store.files > 0
    # A job the kill stopped mid-run is told to its owner by the next start, once.
    outputs = [cycle.output for cycle in cycles[1:]] + [restart]
    told = [told_interrupted(output) for output in outputs]
    assert told == [cycle.left_running for cycle in cycles], (told, cycles)
