"""kill -9 at 20 random moments of image, music and /forget turns, a restart after each: what
the store holds afterwards (tests/agent/test_crash.py runs the same cycle a few times).

Run:
    .venv/bin/python bench/crash.py                 # 20 kills, seed 0
    .venv/bin/python bench/crash.py --kills 5 --seed 3

Prints, per kill, how many of the streamed requests were answered before it; then the pieces
and files in the store and every inconsistency counted (pieces without their file, files
without their piece, half-written files, messages stored without their answer). Exits 1 when
any is not 0.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.support, run from anywhere

from tests.support.crash import (  # noqa: E402
    Cycle,
    clean_start,
    consistency,
    killed_cycle,
    told_interrupted,
)

MODELS_DIR = Path(__file__).resolve().parents[1] / "data" / "test-models"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    options = parser.parse_args()
    rng = random.Random(options.seed)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        cycles: list[Cycle] = []
        for number in range(1, options.kills + 1):
            told = cycles[-1].left_running if cycles else 0
            cycles.append(killed_cycle(data_dir, MODELS_DIR, rng, told=told))
            print(f"kill {number:2}: {_described(cycles[-1])}")
        restart = clean_start(data_dir, MODELS_DIR, told=cycles[-1].left_running)
        store = consistency(data_dir)
    starts = [cycle.at_start for cycle in cycles[1:]] + [store]
    unclean = sum(state is None or not state.clean for state in starts)
    told = [told_interrupted(c.output) for c in cycles[1:]] + [told_interrupted(restart)]
    stopped = [cycle.left_running for cycle in cycles]
    mid_turn = sum(cycle.answered < cycle.sent for cycle in cycles)
    print(
        f"\n{options.kills} kills, {mid_turn} with requests still unanswered, "
        f"{time.perf_counter() - started:.0f} s"
    )
    print(f"restarts that found the store inconsistent: {unclean} of {len(starts)}")
    print(f"store after the last restart: {store.pieces} pieces, {store.files} files")
    print(f"pieces without their file:  {store.pieces_without_file}")
    print(f"files without their piece:  {store.files_without_piece}")
    print(f"half-written files:         {store.temporary_files}")
    print(f"messages without an answer: {store.unanswered}")
    print(f"jobs stopped mid-run: {sum(stopped)}; owners told at the next start: {sum(told)}")
    wrongly_told = sum(a != b for a, b in zip(told, stopped, strict=True))
    print(f"restarts that told a different number than were stopped: {wrongly_told}")
    return 0 if not unclean and not wrongly_told else 1


def _described(cycle: Cycle) -> str:
    return (
        f"{cycle.answered} of {cycle.sent} answered, killed "
        f"{cycle.killed_after_s * 1000:.0f} ms after the last answer with "
        f"{cycle.left_running} job running; {_found(cycle)}"
    )


def _found(cycle: Cycle) -> str:
    """What this run's start found: the store as the previous kill and its restart left it."""
    state = cycle.at_start
    if state is None:
        return "first start"
    verdict = "consistent" if state.clean else f"INCONSISTENT {state}"
    return f"started on {state.pieces} pieces, {state.files} files, {verdict}"


if __name__ == "__main__":
    sys.exit(main())
