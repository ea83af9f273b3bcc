"""A take as scheduler work (tools/scheduling/): new clips of one model at one guidance and
of one length in decoder steps batch with other people's, each with its own seed (its own
generator draws its rows' sampling noise); an extension (an audio prompt) runs alone,
through the same line.

One length, not a range of lengths: MusicGen's delay pattern forces pad tokens into the last
steps of a clip (codebook 0 finishes first), so a shorter clip decoded beside a longer one
would hear the longer one's codebook 0 go on there and end differently than it would alone.
Within one length, each clip's codes are decoded to audio on their own and cut to its own
seconds, so a clip is the same batched as alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np
import torch

from tools.models.sampling import seeded
from tools.music.decode.loop import OnStep, Text, decode_codes
from tools.music.decode.music import seeded_generator
from tools.music.decode.music import supports as fast_decode_supports
from tools.music.decode.sampling import Sampling
from tools.music.model import LoadedMusicGen, generate_music
from tools.scheduling.work import Work

KIND = "music"


@dataclass(frozen=True)
class Take:
    description: str
    seconds: float
    guidance: float
    seed: int
    prompt: np.ndarray | None = None  # audio to continue (an extension): always alone
    greedy: bool = False  # the most likely tokens (tests compare against generate())


def take_work(loaded: LoadedMusicGen, take: Take, on_step: OnStep) -> Work[Take, np.ndarray]:
    """The take as one job: its mono float32 samples, with its own step callback."""
    batches = take.prompt is None and fast_decode_supports(loaded.model)
    steps = loaded.steps_for(take.seconds)
    return Work(
        model=loaded,
        kind=KIND,
        item=take,
        run=partial(compose_takes, loaded) if batches else partial(_alone, loaded),
        shape=(take.guidance, take.greedy, steps) if batches else None,
        on_step=on_step,
    )


def compose_takes(
    loaded: LoadedMusicGen, takes: Sequence[Take], on_step: OnStep
) -> list[np.ndarray]:
    """New clips (no audio prompt) of one guidance and length as one decode, under the
    model's lock."""
    first = takes[0]
    with loaded.lock:
        processor, model = loaded.processor, loaded.model
        inputs = processor(
            text=[take.description for take in takes], padding=True, return_tensors="pt"
        )
        text = Text(
            inputs["input_ids"].to(loaded.device), inputs["attention_mask"].to(loaded.device)
        )
        steps = max(loaded.steps_for(take.seconds) for take in takes)
        generators = (
            None if first.greedy else [take_generator(t.seed, loaded.device) for t in takes]
        )
        with torch.inference_mode():
            codes = decode_codes(
                model,
                text,
                steps,
                guidance=first.guidance,
                sampling=Sampling.of(model.generation_config, greedy=first.greedy),
                generator=generators,
                on_step=on_step,
            )
            return [_audio(loaded, codes[row : row + 1], take) for row, take in enumerate(takes)]


def take_generator(seed: int, device: torch.device) -> torch.Generator:
    """The clip's sampling generator, drawn as a run alone draws it (the global random state
    seeded with the take's seed), so a seed makes the same clip in or out of a batch."""
    with seeded(seed, device):
        return seeded_generator(device)


def _audio(loaded: LoadedMusicGen, codes: torch.Tensor, take: Take) -> np.ndarray:
    """One clip's codes (1, codebooks, frames), cut to its own length, as mono samples."""
    mine = codes[:, :, : loaded.frames_for(take.seconds)]
    audio = loaded.model.audio_encoder.decode(mine[None], audio_scales=[None]).audio_values
    wave = audio.float().mean(dim=1)[0].cpu().numpy()
    return np.ascontiguousarray(wave[: round(take.seconds * loaded.sampling_rate)], np.float32)


def _alone(loaded: LoadedMusicGen, takes: Sequence[Take], on_step: OnStep) -> list[np.ndarray]:
    """An extension, or a model the fast loop cannot decode: generate_music on its own."""
    (take,) = takes
    with loaded.lock, seeded(take.seed, loaded.device):
        waves = generate_music(
            loaded,
            [take.description],
            take.seconds,
            guidance=take.guidance,
            prompt_audio=take.prompt,
            on_step=on_step,
        )
    return [waves[0]]
