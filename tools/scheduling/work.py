"""What a tool hands the scheduler: one job's item for a model, and how to run a batch of them.

Jobs batch when they are for the same model, of the same kind and of equal `shape` (for an
image: text-to-image at one size, steps and guidance); the first job's `run` then runs the
items of all of them, so everything `run` depends on besides its items belongs in `shape`.
A job whose shape is None always runs alone, through the same line.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")

# Called after every step of a batch with (steps done, steps in all). A job's own callback
# may raise (its run was cancelled): that job leaves the batch and the others go on.
OnStep = Callable[[int, int], None]


def no_step(_done: int, _total: int) -> None:
    return None


@dataclass(frozen=True, eq=False)
class Work(Generic[Item, Result]):
    """One job for one model."""

    model: object  # the loaded model: each has its own line and thread
    kind: str  # which batch cap applies ("image", "music"), and part of the pace's key
    item: Item
    # Runs items as one batch, holding the model's lock, one result per item in order.
    run: Callable[[Sequence[Item], OnStep], Sequence[Result]]
    shape: Hashable | None = None  # equal shapes batch; None: always alone
    size: int = 1  # what it adds to a batch (pictures, clips), counted against the cap
    on_step: OnStep = no_step

    def joins(self, other: Work) -> bool:
        """Whether `other` may run in one batch with this job."""
        return (
            self.shape is not None
            and other.model is self.model
            and other.kind == self.kind
            and other.shape == self.shape
        )

    @property
    def pace_key(self) -> str:
        """What its measured speed is kept under: the kind, and the shape when it has one."""
        return self.kind if self.shape is None else f"{self.kind} {self.shape!r}"


def run_alone(work: Work[Item, Result]) -> Result:
    """The job as a batch of one, here and now."""
    return work.run([work.item], work.on_step)[0]
