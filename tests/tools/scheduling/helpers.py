"""Doubles for the scheduler's tests: a model that records the batches it runs, and a gate
that holds its thread on a first job so the next ones queue behind it."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from tools.scheduling.lane import Check, Report
from tools.scheduling.queue import Batching
from tools.scheduling.scheduler import Scheduler, SchedulerLane
from tools.scheduling.work import OnStep, Work, no_step

WAIT_S = 30.0  # how long a test waits for something that must happen (never a measure)


class Bad(Exception):
    """What the fake model raises for an item it cannot make."""


@dataclass
class FakeModel:
    """Runs batches of strings: each item comes back upper-cased; an item "bad" fails the
    whole batch, as a bad prompt or an out-of-memory error would. `gate` items block until
    the gate opens, holding the model's thread."""

    steps: int = 3
    batches: list[list[str]] = field(default_factory=list)
    gate: threading.Event = field(default_factory=threading.Event)
    holding: threading.Event = field(default_factory=threading.Event)

    def run(self, items: Sequence[str], on_step: OnStep) -> list[str]:
        self.batches.append(list(items))
        if "gate" in items:
            self.holding.set()
            self.gate.wait(WAIT_S)
        if "bad" in items:
            raise Bad("no")
        for done in range(1, self.steps + 1):
            on_step(done, self.steps)
        return [item.upper() for item in items]

    def work(self, item: str, *, shape: object = "s", on_step: OnStep = no_step) -> Work:
        return Work(model=self, kind="fake", item=item, run=self.run, shape=shape, on_step=on_step)


def no_report(_fraction: float, _label: str) -> None:
    return None


def no_check() -> None:
    return None


def in_thread(
    pool: ThreadPoolExecutor,
    lane: SchedulerLane,
    work: Work,
    report: Report = no_report,
    check: Check = no_check,
) -> Future:
    return pool.submit(lane.run, work, report, check)


def until(condition: Callable[[], bool]) -> None:
    """Wait for `condition`, failing the test if it never comes."""
    done = threading.Event()
    for _ in range(int(WAIT_S / 0.01)):
        if condition():
            return
        done.wait(0.01)
    raise AssertionError("the condition never came")


# Long enough that the batch forms only when it is full: every job is in it.
GATHER_S = WAIT_S


class Batches:
    """A pace that keeps the size of every batch run."""

    def __init__(self) -> None:
        self.sizes: list[int] = []

    def record_batch(self, key: str, seconds: float, size: int) -> None:
        self.sizes.append(size)

    def batch_s(self, key: str, size: int) -> float:
        return 1.0


def batched(works: Sequence[Work], kind: str, cap: int) -> tuple[list, list[int]]:
    """The works' results, each asked by a different person at once, and the batch sizes."""
    pace = Batches()
    scheduler = Scheduler(Batching(window_s=GATHER_S, max_size=((kind, cap),)), pace=pace)
    with ThreadPoolExecutor(len(works)) as pool:
        asked = [in_thread(pool, scheduler.lane(f"person {i}"), w) for i, w in enumerate(works)]
        results = [job.result(WAIT_S * 4) for job in asked]
    scheduler.shutdown()
    return results, pace.sizes
