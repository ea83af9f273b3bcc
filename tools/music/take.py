"""One take of MusicGen: the clip it makes, generated under the model's lock with progress
reported per decoder step and a cancel honoured between steps."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tools.contract import ToolContext
from tools.models.sampling import seeded
from tools.music.model import LoadedMusicGen, generate_music

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
    last = [0.0]

    def on_step(done: int, total: int) -> None:
        context.check()
        fraction = 0.1 + 0.8 * done / total
        if fraction - last[0] >= 0.02 or done == total:
            last[0] = fraction
            made = min(done / loaded.frame_rate, seconds)
            context.progress(fraction, f"composing {made:.1f} of {seconds:g} s")

    context.progress(0.1, "composing")
    with loaded.lock, seeded(seed, loaded.device):
        waves = generate_music(
            loaded, [description], seconds, guidance=guidance, prompt_audio=prompt, on_step=on_step
        )
    context.check()
    return Clip(waves[0], loaded.sampling_rate)
