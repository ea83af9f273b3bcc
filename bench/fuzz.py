"""The fuzz property of tests/agent/test_fuzz.py at full size: generated hostile input through a
real Agent, every problem counted instead of stopping at the first.

Run:
    .venv/bin/python bench/fuzz.py                      # 10,000 inputs on SQLite
    .venv/bin/python bench/fuzz.py --examples 2000 --seed 7
    .venv/bin/python bench/fuzz.py --postgres postgresql+asyncpg://root@127.0.0.1:5432/test

Prints the inputs run and, for each check of tests/support/fuzzing.py, how many failed
(unhandled exceptions, half-stored turns, unclean stored text, bad replies, apologies), the
longest reply, and the first failures in full. Exits 1 when any check failed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.support, run from anywhere

from agent.store.db import Base  # noqa: E402
from agent.store.engine import create_engine, session_factory  # noqa: E402
from tests.support.fuzzing import (  # noqa: E402
    FuzzRouter,
    Harness,
    ModelsNotHere,
    Tally,
    fuzz_tools,
    run_fuzz,
)
from tests.support.pg import temporary_database  # noqa: E402
from tests.support.workshop import Workshop  # noqa: E402
from tools.models.text import load_causal_lm  # noqa: E402

MODELS_DIR = Path(__file__).resolve().parents[1] / "data" / "test-models"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0, help="Hypothesis's seed (a run repeats)")
    parser.add_argument("--postgres", help="a PostgreSQL URL to make a throwaway database on")
    parser.add_argument("--scan-every", type=int, default=25, help="list the media store every N")
    options = parser.parse_args()
    # The agent logs each caught failure in full; the harness counts them, the run stays quiet.
    logging.basicConfig(level=logging.WARNING, handlers=[logging.NullHandler()])
    with tempfile.TemporaryDirectory() as tmp, database(options.postgres, Path(tmp)) as url:
        started = time.perf_counter()
        tally = asyncio.run(fuzz(url, Path(tmp), options))
        elapsed = time.perf_counter() - started
    report(tally, elapsed, backend="PostgreSQL" if options.postgres else "SQLite")
    problems = tally.unhandled + tally.half_stored + tally.unclean + tally.bad_replies
    return 1 if problems or tally.apologies else 0


@contextlib.contextmanager
def database(postgres: str | None, tmp: Path) -> Iterator[str]:
    if postgres is None:
        yield f"sqlite+aiosqlite:///{tmp / 'fuzz.db'}"
        return
    with temporary_database(postgres) as url:
        yield url


async def fuzz(url: str, tmp: Path, options: argparse.Namespace) -> Tally:
    engine = create_engine(url)
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    chat = load_causal_lm("tiny:chat", cache_dir=MODELS_DIR, device="cpu", dtype="float32")
    workshop = Workshop(
        session_factory(engine),
        tmp,
        chat,
        fuzz_tools(),
        router=FuzzRouter(),
        models=ModelsNotHere(),
    )
    harness = Harness(workshop, scan_every=options.scan_every)
    loop = asyncio.get_running_loop()
    try:
        await asyncio.to_thread(
            run_fuzz,
            harness,
            loop,
            examples=options.examples,
            derandomize=False,
            seed=options.seed,
        )
        await harness.finish()
    finally:
        harness.close()
        await workshop.agent.close()
        workshop.jobs.shutdown()
        await engine.dispose()
    return harness.tally


def report(tally: Tally, elapsed: float, *, backend: str) -> None:
    print(f"fuzz on {backend}: {tally.inputs:,} inputs in {elapsed:.0f} s")
    for label, count in (
        ("unhandled exceptions", tally.unhandled),
        ("half-stored", tally.half_stored),
        ("unclean stored text", tally.unclean),
        ("replies too long or unsendable", tally.bad_replies),
        ("apologies (caught failures)", tally.apologies),
    ):
        print(f"  {label:<32} {count:>6,}")
    print(f"  {'longest reply (characters)':<32} {tally.longest_reply:>6,}")
    print(f"  {'refusals that kept the uploads':<32} {tally.kept_uploads:>6,}  (by design)")
    for failure in tally.failures:
        print("\n" + failure)


if __name__ == "__main__":
    sys.exit(main())
