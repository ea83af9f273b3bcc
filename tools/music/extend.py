"""Extending the music in focus (made here or uploaded) by some seconds more.

MusicGen hears the clip's last seconds as an audio prompt and continues them; its rendering
of the prompt is crossfaded onto the untouched original and the new audio follows, so the
original is kept as it was up to the join and the join does not click. A piece stops at
MAX_TOTAL_SECONDS; the result is a child version of the piece extended.
"""

from __future__ import annotations

import math

from tools.contract import ArtifactDraft, FocusArtifact, ToolContext
from tools.music.descriptions import amended
from tools.music.draft import clip_draft, clip_params
from tools.music.durations import MAX_TOTAL_SECONDS, MIN_SECONDS, clamp_seconds, take_limit
from tools.music.files import crossfade_join, decode, resample, to_mono
from tools.music.focus import MusicRefused
from tools.music.model import LoadedMusicGen
from tools.music.take import MODEL_ROLE, Clip, generate

# How much of a clip MusicGen hears before continuing it: enough for its tempo and key, and
# with a 30 s extension well inside the 2048 positions of MusicGen's decoder.
CONTEXT_SECONDS = 5.0
CROSSFADE_SECONDS = 0.25


def extend(
    focus: FocusArtifact,
    request: str,
    asked: float | None,
    guidance: float,
    seed: int,
    context: ToolContext,
) -> ArtifactDraft:
    """`focus` continued by `asked` seconds (default 8), described as it was plus the
    request's musical words ("extend it with a trumpet" -> "..., trumpet")."""
    loaded: LoadedMusicGen = context.models.get(MODEL_ROLE)
    rate = loaded.sampling_rate
    original, converted = read_focus_clip(focus, rate)
    take = take_limit(context.settings)
    seconds, notes = clamp_seconds(asked, take=take, room=_room(focus, original))
    context_samples = _context_samples(focus, original, loaded)
    description = amended(focus, request, only_musical_words=True)
    prompt = original.samples[-context_samples:]
    made = generate(loaded, description, seconds, guidance, seed, context, prompt)
    fade = min(round(CROSSFADE_SECONDS * rate), context_samples)
    rendered_prompt = made.samples[:context_samples]
    joined = crossfade_join(
        original.samples, rendered_prompt[-fade:], made.samples[context_samples:]
    )
    clip = Clip(joined, rate)
    params = clip_params(loaded, description, seed, clip.seconds, guidance, "extend")
    params.update(
        extended=focus.number,
        added=round(seconds, 3),
        context_seconds=round(context_samples / rate, 3),
    )
    said = (
        f"extended #{focus.number} by {seconds:g} s to {clip.seconds:.1f} s, continuing from "
        f"its last {context_samples / rate:g} s, crossfaded over {fade / rate:g} s"
    )
    notes = [said, *converted, *notes]
    return clip_draft(clip, description, params, loaded, notes, from_focus=True)


def _room(focus: FocusArtifact, original: Clip) -> float:
    """The seconds the piece may still grow by; refused when that is under one take's least."""
    room = MAX_TOTAL_SECONDS - original.seconds
    if room < MIN_SECONDS:
        raise MusicRefused(
            f"#{focus.number} is already {original.seconds:.0f} s long; pieces stop at "
            f"{MAX_TOTAL_SECONDS:g} s."
        )
    return room


def _context_samples(focus: FocusArtifact, original: Clip, loaded: LoadedMusicGen) -> int:
    """How many of the original's last samples MusicGen hears: a whole number of codec
    frames, so the model's rendering of them ends exactly where the original does."""
    frames = math.floor(min(CONTEXT_SECONDS, original.seconds) * loaded.frame_rate)
    if frames == 0:
        raise MusicRefused(f"#{focus.number} is too short to continue; it needs 1/50 s or more.")
    return frames * loaded.hop_length


def read_focus_clip(focus: FocusArtifact, rate: int) -> tuple[Clip, list[str]]:
    """The focus piece's audio, mono at the model's rate, and a note when it was not. Read
    from its lossless WAV where it has one, so extending twice does not re-encode twice."""
    assert focus.media_path is not None
    source = focus.files.get("wav", focus.media_path)
    try:
        samples, own_rate = decode(source.read_bytes())
    except (OSError, RuntimeError) as exc:  # a missing file, or bytes libsndfile cannot read
        raise MusicRefused(f"I could not read the audio of #{focus.number} ({exc}).") from exc
    converted = samples.ndim > 1 or own_rate != rate
    note = [f"#{focus.number} was made mono at {rate / 1000:g} kHz to continue it"]
    return Clip(resample(to_mono(samples), own_rate, rate), rate), note if converted else []
