"""A new clip that follows the melody of the clip in focus (mode "melody"): "use this tune for
a string quartet", a hum uploaded and played as something else.

The clip in focus (made here, or uploaded: tools/music/files.py read_upload takes the file)
is heard as MusicGen-Melody hears a tune, its chromagram (tools/music/chroma.py: the pitch
class of each ~0.13 s, its first 30 s), and the request says what to play it as. It is a new
piece made from the clip ("made from #N"), not a version of it: its params record
"melody_from". As long as the tune unless `duration` says, within a take's limit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np

from tools.contract import PIECE_MENTION, ArtifactDraft, ToolContext, ToolRefused, in_style
from tools.models.sampling import seeded
from tools.music.chroma import melody_chroma
from tools.music.draft import clip_draft, clip_params
from tools.music.durations import clamp_seconds, take_limit
from tools.music.extend import read_focus_clip
from tools.music.focus import music_focus
from tools.music.melody_model import LoadedMelodyGen, generate_with_melody
from tools.music.take import Clip, step_reporter
from tools.scheduling.work import OnStep, Work

MELODY_ROLE = "music_melody"
KIND = "music"  # the music batch cap and pace; a melody take always runs alone
ASK_WHAT_TO_PLAY = (
    "What should I play the tune as? Say an ensemble or a style, for example "
    "`use this tune for a string quartet`."
)


@dataclass(frozen=True)
class MelodyTake:
    description: str
    tune: np.ndarray  # mono, at the chroma's rate
    seconds: float
    guidance: float
    seed: int


def follow_melody(
    request: str, asked: float | None, guidance: float, seed: int, context: ToolContext
) -> ArtifactDraft:
    """A new clip playing the focus clip's tune as `request` says."""
    focus = music_focus(context.focus, "use as a melody")
    description = in_style(PIECE_MENTION.sub("", request).strip(" ,.;"), context.style)
    if not description:
        raise ToolRefused(ASK_WHAT_TO_PLAY)
    loaded: LoadedMelodyGen = context.models.get(MELODY_ROLE)
    tune, _ = read_focus_clip(focus, loaded.chroma.sampling_rate)
    heard = min(tune.seconds, loaded.chroma.chunk_length)
    seconds, clamped = clamp_seconds(
        asked if asked is not None else heard, take=take_limit(context.settings)
    )
    if asked is None:
        clamped = []  # the length follows the tune, as far as a take goes: nothing to say
    take = MelodyTake(description, tune.samples, seconds, guidance, seed)
    on_step = step_reporter(context, seconds, loaded.frame_rate)
    wave = context.schedule(
        Work(model=loaded, kind=KIND, item=take, run=partial(_run, loaded), on_step=on_step)
    )
    context.check()
    clip = Clip(wave, loaded.sampling_rate)
    params = clip_params(loaded, description, seed, clip.seconds, guidance, "melody")
    params["melody_from"] = focus.number
    notes = [f"following the melody of #{focus.number} (its first {heard:.1f} s)", *clamped]
    return clip_draft(
        clip, description, params, loaded, notes, from_focus=True, focus_is_source=True
    )


def _run(loaded: LoadedMelodyGen, takes: Sequence[MelodyTake], on_step: OnStep) -> list[np.ndarray]:
    """One melody take under the model's lock, its sampling seeded by the take's seed."""
    (take,) = takes
    chroma = melody_chroma(take.tune, loaded.chroma.sampling_rate, loaded.chroma)
    with loaded.lock, seeded(take.seed, loaded.device):
        wave = generate_with_melody(
            loaded, take.description, chroma, take.seconds, guidance=take.guidance, on_step=on_step
        )
    return [wave]
