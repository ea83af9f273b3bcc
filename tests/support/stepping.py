"""Tools that work in steps, for the cancel tests (agent/cancelling/).

`Stepping` is a stand-in that reports each step and checks for cancellation between steps, as
the image tool does between denoising steps; `counting_steps` wraps a real tool so that its
own "step k/N" reports are counted (and slowed a little, so a run lasts long enough for a
test to cancel it midway). Either way `steps` counts the steps a run finished, read from the
worker thread as they happen.
"""

from __future__ import annotations

import threading
import time
from dataclasses import replace

from pydantic import Field

from tools.contract import ArtifactDraft, ArtifactKind, Tool, ToolArgs, ToolContext


class StepArgs(ToolArgs):
    prompt: str = Field("", description="what to make")


class StepCounter:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._steps = 0

    @property
    def steps(self) -> int:
        with self._lock:
            return self._steps

    def step(self) -> None:
        with self._lock:
            self._steps += 1

    def wait_for(self, steps: int, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while self.steps < steps:
            assert time.monotonic() < deadline, f"only {self.steps} of {steps} steps in time"
            time.sleep(0.005)


class Stepping(StepCounter):
    """`total` steps of `step_s` each; a picture of its prompt when it gets to the end. With
    `pause_after`, a run waits after that step until `release` is set (still checking for
    cancellation), so a test can act while it is surely going on."""

    def __init__(
        self, total: int = 500, step_s: float = 0.02, *, pause_after: int | None = None
    ) -> None:
        super().__init__()
        self.total = total
        self._step_s = step_s
        self._pause_after = pause_after
        self.release = threading.Event()

    def run(self, args: StepArgs, context: ToolContext) -> ArtifactDraft:
        for done in range(1, self.total + 1):
            time.sleep(self._step_s)
            self.step()
            context.progress(done / self.total, f"step {done}/{self.total}")
            context.check()  # raises Cancelled: the run stops between two steps
            while done == self._pause_after and not self.release.wait(0.01):
                context.check()
        return ArtifactDraft(ArtifactKind.IMAGE, text=f"a picture of {args.prompt}")

    def tool(self, name: str = "image") -> Tool:
        return Tool(name, "Draw in steps.", ArtifactKind.IMAGE, StepArgs, self.run)


def counting_steps(tool: Tool, counter: StepCounter, *, step_s: float = 0.02) -> Tool:
    """`tool` with each "step k/N" it reports counted, `step_s` after the step's work."""
    run = tool.run

    def counted(args: ToolArgs, context: ToolContext) -> ArtifactDraft:
        def progress(fraction: float, label: str) -> None:
            if label.startswith("step "):
                time.sleep(step_s)
                counter.step()
            context.progress(fraction, label)

        return run(args, replace(context, progress=progress))

    return replace(tool, run=counted)
