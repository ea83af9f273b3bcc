"""Measured facts about a piece of music, for a critique to stand on (librosa).

- duration in seconds;
- tempo in BPM from librosa's beat tracker, at a finer hop than its default so the estimate
  is not quantised to about 5 BPM around 120;
- beat strength: onset strength at the tracked beats over the median onset strength, so 1
  means the beats stand out no more than anything else (no clear pulse) and 3 or more a
  plain, strong beat;
- key: the mean chroma correlated with the 24 rotations of the Krumhansl-Kessler major and
  minor key profiles (Krumhansl 1990); the best correlation is reported with it, since an
  ambiguous or atonal clip scores low on every key;
- loudness: RMS level of the whole clip in dBFS, and the peak in dBFS;
- dynamic range: the spread in dB between loud (95th percentile) and quiet (10th percentile)
  frames, ignoring frames of near silence;
- spectral centroid: the mean "centre of mass" of the spectrum in Hz, how bright it sounds.

librosa is imported inside the functions: the bench runs on machines that may not have it, and
importing it costs a second that only music critiques should pay.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tools.music.files import decode, to_mono

ANALYSIS_RATE = 22050
TEMPO_HOP = 256  # samples; 11.6 ms at 22.05 kHz
# Frames quieter than this are silence, not quiet music, for the dynamic range.
SILENCE_DBFS = -60.0
PITCHES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
# Krumhansl-Kessler probe-tone ratings for C major and C minor.
_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])


class UnreadableAudio(ValueError):
    """The file is not audio this machine can decode."""


@dataclass(frozen=True)
class AudioMeasures:
    duration_s: float
    tempo_bpm: float | None  # None: too short or no pulse to track
    beat_strength: float | None
    key: str | None  # e.g. "A minor"; None for silence
    key_correlation: float | None  # -1..1: how clearly the chroma fits that key
    loudness_dbfs: float
    peak_dbfs: float
    dynamic_range_db: float
    spectral_centroid_hz: float

    def as_params(self) -> dict[str, Any]:
        return {
            key: round(value, 3) if isinstance(value, float) else value
            for key, value in asdict(self).items()
        }


def read_audio(path: Path) -> tuple[np.ndarray, int]:
    """Mono float samples and their rate; UnreadableAudio if soundfile cannot decode it."""
    try:
        samples, rate = decode(path.read_bytes())
    except (OSError, RuntimeError, TypeError) as error:  # LibsndfileError is a RuntimeError
        raise UnreadableAudio(str(error)) from error
    if samples.size == 0:
        raise UnreadableAudio("the file holds no samples")
    return to_mono(samples), int(rate)


def measure(samples: np.ndarray, rate: int) -> AudioMeasures:
    import librosa

    if rate != ANALYSIS_RATE:
        samples = librosa.resample(samples, orig_sr=rate, target_sr=ANALYSIS_RATE)
    y = np.ascontiguousarray(samples, dtype=np.float32)
    tempo, strength = _tempo_and_beat_strength(y)
    key, correlation = estimate_key(y)
    loudness, peak, dynamic_range = _levels(y)
    centroid = librosa.feature.spectral_centroid(y=y, sr=ANALYSIS_RATE)
    return AudioMeasures(
        duration_s=len(y) / ANALYSIS_RATE,
        tempo_bpm=tempo,
        beat_strength=strength,
        key=key,
        key_correlation=correlation,
        loudness_dbfs=loudness,
        peak_dbfs=peak,
        dynamic_range_db=dynamic_range,
        spectral_centroid_hz=float(np.mean(centroid)) if peak > SILENCE_DBFS else 0.0,
    )


def estimate_key(y: np.ndarray) -> tuple[str | None, float | None]:
    """The major or minor key whose Krumhansl-Kessler profile best fits the mean chroma."""
    import librosa

    if not np.any(np.abs(y) > 1e-4):
        return None, None
    with warnings.catch_warnings():
        # The constant-Q transform's lowest octaves see a short clip heavily downsampled and
        # warn that their window is long; the chroma is still right (tests check it).
        warnings.filterwarnings("ignore", message="n_fft=", category=UserWarning)
        chroma = librosa.feature.chroma_cqt(y=y, sr=ANALYSIS_RATE).mean(axis=1)
    best: tuple[float, str] = (-2.0, "")
    for tonic in range(12):
        for mode, profile in (("major", _MAJOR), ("minor", _MINOR)):
            correlation = float(np.corrcoef(chroma, np.roll(profile, tonic))[0, 1])
            if not math.isnan(correlation) and correlation > best[0]:
                best = (correlation, f"{PITCHES[tonic]} {mode}")
    return (best[1], best[0]) if best[1] else (None, None)


def _tempo_and_beat_strength(y: np.ndarray) -> tuple[float | None, float | None]:
    import librosa

    onsets = librosa.onset.onset_strength(y=y, sr=ANALYSIS_RATE, hop_length=TEMPO_HOP)
    if len(onsets) < 8 or not np.any(onsets > 0):
        return None, None
    tempo, beats = librosa.beat.beat_track(
        onset_envelope=onsets, sr=ANALYSIS_RATE, hop_length=TEMPO_HOP
    )
    bpm = float(np.atleast_1d(tempo)[0])
    if len(beats) < 2 or bpm <= 0:
        return None, None
    typical = float(np.median(onsets)) or float(np.mean(onsets))
    strength = float(np.mean(onsets[beats])) / typical if typical > 0 else None
    return bpm, strength


def _levels(y: np.ndarray) -> tuple[float, float, float]:
    import librosa

    loudness = _dbfs(float(np.sqrt(np.mean(np.square(y, dtype=np.float64)))))
    peak = _dbfs(float(np.max(np.abs(y))))
    frames = librosa.amplitude_to_db(librosa.feature.rms(y=y)[0], ref=1.0, amin=1e-10)
    sounding = frames[frames > SILENCE_DBFS]
    if sounding.size < 2:
        return loudness, peak, 0.0
    return loudness, peak, float(np.percentile(sounding, 95) - np.percentile(sounding, 10))


def _dbfs(amplitude: float) -> float:
    return 20 * math.log10(max(amplitude, 1e-10))


def describe(m: AudioMeasures) -> list[str]:
    """One line per measure, with its meaning, for a model's prompt and the critique's footer."""
    lines = [f"duration {m.duration_s:.1f} s"]
    if m.tempo_bpm is None or m.beat_strength is None:
        lines.append("tempo: no steady pulse found")
    else:
        lines.append(
            f"tempo {m.tempo_bpm:.0f} BPM, beat strength {m.beat_strength:.1f} "
            f"(1 no clear pulse, 3+ a strong beat; {_beat_word(m.beat_strength)})"
        )
    if m.key is None or m.key_correlation is None:
        lines.append("key: silence, none")
    else:
        lines.append(
            f"key estimate {m.key} (fit {m.key_correlation:.2f}; "
            f"{'clear' if m.key_correlation >= 0.6 else 'ambiguous'})"
        )
    lines += [
        f"loudness {m.loudness_dbfs:.1f} dBFS RMS, peak {m.peak_dbfs:.1f} dBFS "
        f"({_loudness_word(m.loudness_dbfs)})",
        f"dynamic range {m.dynamic_range_db:.1f} dB between loud and quiet passages "
        f"({_dynamics_word(m.dynamic_range_db)})",
        f"spectral centroid {m.spectral_centroid_hz:.0f} Hz "
        f"({_brightness_word(m.spectral_centroid_hz)} timbre)",
    ]
    return lines


def advice(m: AudioMeasures) -> list[str]:
    """Actions the figures point to, most pressing first; always at least two (one about the
    level and one about the pulse are always possible)."""
    actions = []
    if m.peak_dbfs > -0.3:
        actions.append(
            f"Lower the peaks to leave headroom: they reach {m.peak_dbfs:.1f} dBFS and may clip."
        )
    actions.append(_level_action(m))
    actions.append(_pulse_action(m))
    if m.key is not None and m.key_correlation is not None and m.key_correlation < 0.5:
        actions.append(
            f"Anchor the harmony in one key: the closest fit, {m.key}, scores only "
            f"{m.key_correlation:.2f}."
        )
    if 0 < m.spectral_centroid_hz < 800:
        actions.append(
            f"Add a brighter voice or more high end: the spectral centroid is "
            f"{m.spectral_centroid_hz:.0f} Hz, so it sounds muffled."
        )
    elif m.spectral_centroid_hz > 4000:
        actions.append(
            f"Soften the high end: the spectral centroid is {m.spectral_centroid_hz:.0f} Hz, "
            "which sounds harsh."
        )
    return actions


def _level_action(m: AudioMeasures) -> str:
    if m.loudness_dbfs < -30:
        return f"Raise the overall level: it sits at {m.loudness_dbfs:.1f} dBFS, which is faint."
    if m.dynamic_range_db < 4:
        return (
            f"Make quiet and loud passages differ more: the dynamic range is only "
            f"{m.dynamic_range_db:.1f} dB, so it stays at one level."
        )
    return (
        f"Shape the dynamics into a clear build and release: the range is "
        f"{m.dynamic_range_db:.1f} dB; place the loudest moment where the piece peaks."
    )


def _pulse_action(m: AudioMeasures) -> str:
    if m.tempo_bpm is None or m.beat_strength is None:
        return "Give it a steady pulse, even a soft one: no beat could be tracked."
    if m.beat_strength < 1.5:
        return (
            f"Make the beat clearer with a defined percussive or bass pattern: beat strength is "
            f"{m.beat_strength:.1f} at {m.tempo_bpm:.0f} BPM."
        )
    return (
        f"Vary the rhythm in the middle of the piece: the {m.tempo_bpm:.0f} BPM beat is strong "
        f"({m.beat_strength:.1f}) and unchanging."
    )


def _beat_word(value: float) -> str:
    return "no clear pulse" if value < 1.5 else "strong" if value >= 3 else "moderate"


def _loudness_word(value: float) -> str:
    if value < SILENCE_DBFS:
        return "silent"
    return "faint" if value < -30 else "loud" if value > -10 else "moderate"


def _dynamics_word(value: float) -> str:
    return "flat" if value < 4 else "wide" if value > 15 else "moderate"


def _brightness_word(value: float) -> str:
    return "dark" if value < 800 else "bright" if value > 3000 else "balanced"
