"""Music measures on synthetic audio whose answers are known."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile

from tools.critique.audio_measures import UnreadableAudio, advice, describe, measure, read_audio

RATE = 22050


def click_track(bpm: float, seconds: float = 10.0, rate: int = RATE) -> np.ndarray:
    """Short decaying 1 kHz clicks on every beat."""
    samples = np.zeros(int(seconds * rate), dtype=np.float32)
    click = np.sin(2 * np.pi * 1000 * np.arange(int(0.02 * rate)) / rate)
    click *= np.exp(-np.arange(click.size) / (0.004 * rate))
    for start in np.arange(0, seconds - 0.05, 60.0 / bpm):
        index = int(start * rate)
        samples[index : index + click.size] += 0.8 * click.astype(np.float32)
    return samples


def chord(frequencies: tuple[float, ...], seconds: float = 4.0) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    tone = sum(np.sin(2 * np.pi * f * t) for f in frequencies)
    return (0.25 * tone).astype(np.float32)


@pytest.mark.parametrize("bpm", [120.0, 90.0])
def test_a_click_track_gives_its_tempo_within_five_percent(bpm: float) -> None:
    measured = measure(click_track(bpm), RATE)
    assert measured.tempo_bpm == pytest.approx(bpm, rel=0.05)
    assert measured.beat_strength is not None and measured.beat_strength > 3
    assert measured.duration_s == pytest.approx(10.0)


def test_the_key_of_a_triad_is_found() -> None:
    a_minor = measure(chord((220.0, 261.63, 329.63)), RATE)  # A C E
    c_major = measure(chord((261.63, 329.63, 392.0)), RATE)  # C E G
    assert (a_minor.key, c_major.key) == ("A minor", "C major")
    assert a_minor.key_correlation is not None and a_minor.key_correlation > 0.6


def test_loudness_of_a_full_scale_sine_is_minus_three_dbfs() -> None:
    t = np.arange(RATE * 2) / RATE
    measured = measure(np.sin(2 * np.pi * 440 * t).astype(np.float32), RATE)
    assert measured.loudness_dbfs == pytest.approx(-3.01, abs=0.05)
    assert measured.peak_dbfs == pytest.approx(0.0, abs=0.01)
    assert measured.dynamic_range_db < 1.0  # one steady level
    assert 400 < measured.spectral_centroid_hz < 600


def test_silence_has_no_tempo_or_key_and_says_so() -> None:
    measured = measure(np.zeros(RATE * 2, dtype=np.float32), RATE)
    assert (measured.tempo_bpm, measured.key) == (None, None)
    lines = describe(measured)
    assert "tempo: no steady pulse found" in lines and "key: silence, none" in lines
    assert len(advice(measured)) >= 2


def test_a_file_is_read_as_mono_at_its_own_rate(tmp_path: Path) -> None:
    path = tmp_path / "stereo.wav"
    soundfile.write(path, np.stack([click_track(120, 3, 44100)] * 2, axis=1), 44100)
    samples, rate = read_audio(path)
    assert rate == 44100 and samples.ndim == 1
    assert measure(samples, rate).tempo_bpm == pytest.approx(120, rel=0.05)
    (tmp_path / "not.wav").write_bytes(b"RIFF nonsense")
    with pytest.raises(UnreadableAudio):
        read_audio(tmp_path / "not.wav")
