"""One take of MusicGen: the clip it makes, generated through the model scheduler (batched
with other people's, tools/music/batching.py) with progress reported per decoder step and a
cancel honoured between steps."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tools.contract import ToolContext
from tools.music.batching import Take, take_work
from tools.music.model import LoadedMusicGen, OnStep

MODEL_ROLE = "music"


@dataclass(frozen=True)
class Clip:
    samples: np.ndarray  # mono float32
    rate: int

    @property
    def seconds(self) -> float:
        return len(self.samples) / self.rate


def generate(
    loaded: LoadedMusicGen,
    description: str,
    seconds: float,
    guidance: float,
    seed: int,
    context: ToolContext,
    prompt: np.ndarray | None,
) -> Clip:
    """Generate under the model's lock, reporting progress per decoder step and stopping
    between steps when the run is cancelled. `prompt` is audio to continue (an extension)."""
    # Through the scheduler: batched with other people's takes of the same shape.
    take = Take(description, seconds, guidance, seed, prompt)
    wave = context.schedule(
        take_work(loaded, take, step_reporter(context, seconds, loaded.frame_rate))
    )
    context.check()
    return Clip(wave, loaded.sampling_rate)


def step_reporter(context: ToolContext, seconds: float, frame_rate: int) -> OnStep:
    """The per-step callback of a take: progress from 10 to 90 % in steps of 2 % or more,
    and the run stopped at the next step once it is cancelled."""
    last = [0.0]

    def on_step(done: int, total: int) -> None:
        context.check()
        fraction = 0.1 + 0.8 * done / total
        if fraction - last[0] >= 0.02 or done == total:
            last[0] = fraction
            made = min(done / frame_rate, seconds)
            context.progress(fraction, f"composing {made:.1f} of {seconds:g} s")

    context.progress(0.1, "composing")
    return on_step
