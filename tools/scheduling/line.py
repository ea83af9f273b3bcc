"""Who goes next: one model's waiting jobs, in the order they will run.

Fair across people and across a person's sessions: the order is round-robin, the person
served longest ago first (someone who has not been served yet goes before everyone who has),
and within a person, their session served longest ago first. A batch is composed in the same
order: the job first in line, then the compatible jobs after it up to the cap, so a crowd of
one person's jobs cannot fill a batch while another person's compatible job waits.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Callable, Hashable, Iterable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, TypeVar

from tools.scheduling.work import Work

T = TypeVar("T")
NOT_SERVED = -1

_numbers = itertools.count()


@dataclass(eq=False)
class Entry:
    """One job waiting or running, with where its outcome goes."""

    work: Work
    owner: Hashable  # the person, as an opaque key
    group: Hashable  # their session or conversation, as an opaque key
    arrived: float
    outcome: Future[Any] = field(default_factory=Future)
    number: int = field(default_factory=lambda: next(_numbers))  # arrival order
    left: bool = False  # its waiter gave up (cancelled): no more steps, its result dropped

    @property
    def settled(self) -> bool:
        return self.left or self.outcome.done()


class Line:
    """The waiting entries of one model. Not thread-safe: its queue holds the lock."""

    def __init__(self) -> None:
        self._waiting: dict[Hashable, dict[Hashable, deque[Entry]]] = {}
        # When each person, and each (person, session), was last served: a running count.
        self._served: dict[Hashable, int] = {}
        self._ticks = itertools.count()

    def __len__(self) -> int:
        return sum(len(jobs) for groups in self._waiting.values() for jobs in groups.values())

    def add(self, entry: Entry) -> None:
        groups = self._waiting.setdefault(entry.owner, {})
        groups.setdefault(entry.group, deque()).append(entry)

    def remove(self, entry: Entry) -> bool:
        """Take `entry` out; False when it was not waiting (it runs, or ran)."""
        groups = self._waiting.get(entry.owner, {})
        jobs = groups.get(entry.group)
        if jobs is None or entry not in jobs:
            return False
        jobs.remove(entry)
        if not jobs:
            del groups[entry.group]
        if not groups:
            del self._waiting[entry.owner]
        return True

    def order(self) -> list[Entry]:
        """Every waiting entry, in the order they would run one at a time."""
        people = sorted(self._waiting, key=self._person_rank)
        return interleave(self._own_order(person) for person in people)

    def served(self, batch: Iterable[Entry]) -> None:
        """Send the people and sessions of `batch` to the back, in the order they were served."""
        for entry in batch:
            tick = next(self._ticks)
            self._served[entry.owner] = tick
            self._served[(entry.owner, entry.group)] = tick
        self._forget_the_long_served()

    def _own_order(self, person: Hashable) -> list[Entry]:
        groups = self._waiting[person]
        ranked = sorted(groups, key=lambda group: self._rank((person, group), groups[group]))
        return interleave(list(groups[group]) for group in ranked)

    def _person_rank(self, person: Hashable) -> tuple[int, int]:
        return self._rank(person, itertools.chain.from_iterable(self._waiting[person].values()))

    def _rank(self, key: Hashable, entries: Iterable[Entry]) -> tuple[int, int]:
        return self._served.get(key, NOT_SERVED), min(entry.number for entry in entries)

    def _forget_the_long_served(self) -> None:
        # Someone absent who was served before everyone waiting would rank first either way,
        # as one never served does: their tick can go, so the record stays small.
        waiting = [self._served.get(person, NOT_SERVED) for person in self._waiting]
        oldest = min(waiting, default=NOT_SERVED)
        if oldest == NOT_SERVED:
            return
        keep = set(self._waiting) | {
            (person, group) for person, groups in self._waiting.items() for group in groups
        }
        for key in [key for key, tick in self._served.items() if tick < oldest]:
            if key not in keep:
                del self._served[key]


def interleave(sequences: Iterable[Sequence[T]]) -> list[T]:
    """One from each in turn: [a1, a2], [b1] -> [a1, b1, a2]."""
    rows = [list(row) for row in sequences]
    return [
        row[index]
        for index in range(max(map(len, rows), default=0))
        for row in rows
        if index < len(row)
    ]


def compose(order: Sequence[Entry], cap: Callable[[str], int]) -> list[Entry]:
    """The next batch: the first in line, and the jobs after it that join it, up to the cap
    of its kind (a job larger than the cap still runs, alone)."""
    head = order[0]
    batch, size, limit = [head], head.work.size, cap(head.work.kind)
    for entry in order[1:]:
        if head.work.joins(entry.work) and size + entry.work.size <= limit:
            batch.append(entry)
            size += entry.work.size
    return batch


def batches_until(
    order: Sequence[Entry], entry: Entry | None, cap: Callable[[str], int]
) -> list[list[Entry]]:
    """The batches that will run before `entry`'s, and its own last, if nobody else comes;
    with `entry` None, every batch of the line."""
    planned: list[list[Entry]] = []
    remaining = list(order)
    while remaining:
        batch = compose(remaining, cap)
        planned.append(batch)
        if entry in batch:
            return planned
        remaining = [one for one in remaining if one not in batch]
    return planned


def batch_size(batch: Iterable[Entry]) -> int:
    return sum(entry.work.size for entry in batch)
