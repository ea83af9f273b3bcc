"""Audio files as people get them: OGG that plays inline and carries its tags, a preview of a
fixed size, joins without a click, and uploads refused in one clear line."""

from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile as sf
from PIL import Image

from tools.contract import UploadRejected
from tools.music.files import (
    DISCORD_FILE_LIMIT,
    OGG_MIME,
    PREVIEW_SIZE,
    Tags,
    crossfade_join,
    decode,
    encode_ogg,
    encode_wav,
    largest_step,
    preview_png,
    read_tags,
    read_upload,
)

RATE = 32000


def tone(seconds: float, hertz: float = 440.0, rate: int = RATE, phase: float = 0.0) -> np.ndarray:
    t = np.arange(round(seconds * rate)) / rate
    return (0.5 * np.sin(2 * np.pi * hertz * t + phase)).astype(np.float32)


def test_the_ogg_keeps_its_length_and_tags() -> None:
    tags = Tags("rainy night jazz, slow brushes — café", 1234, "tiny:music", 2.5)
    data = encode_ogg(tone(2.5), RATE, tags)
    samples, rate = decode(data)
    assert data[:4] == b"OggS" and rate == RATE and len(samples) == 2.5 * RATE
    assert read_tags(data) == tags
    untitled = Tags("", None, "tiny:music", 1.0)  # an extended upload has no description
    assert read_tags(encode_ogg(tone(1.0), RATE, untitled)) == untitled


def test_the_wav_is_lossless_to_sixteen_bits() -> None:
    wave = tone(0.5)
    samples, rate = decode(encode_wav(wave, RATE))
    assert rate == RATE and np.abs(samples - wave).max() < 1e-4


def test_two_minutes_of_the_hardest_audio_to_compress_stays_under_discords_limit() -> None:
    noise = np.random.default_rng(0).uniform(-1, 1, 120 * RATE).astype(np.float32)
    data = encode_ogg(noise, RATE)
    assert len(data) < DISCORD_FILE_LIMIT
    assert len(decode(data)[0]) == 120 * RATE


def test_the_preview_is_a_png_of_the_fixed_size_with_the_waveform_on_top() -> None:
    loud_then_quiet = np.concatenate([tone(1.0), tone(1.0) * 0.01])
    image = Image.open(io.BytesIO(preview_png(loud_then_quiet, RATE)))
    assert image.format == "PNG" and image.size == PREVIEW_SIZE
    pixels = np.asarray(image.convert("L"), dtype=float)
    # The waveform band is drawn tall where the clip is loud and flat where it is quiet.
    wave = pixels[:80]
    assert (wave[:, 100] > 100).sum() > 5 * (wave[:, 700] > 100).sum()


def test_a_crossfaded_join_has_no_click_where_a_plain_join_has_one() -> None:
    # The second part starts a quarter cycle out of phase, at its crest: butted on, it jumps.
    before, after = tone(1.0), tone(1.0, phase=np.pi / 2)
    natural = largest_step(before)
    butted = np.concatenate([before, after])
    assert largest_step(butted) > 5 * natural
    # `overlap` re-renders the end of `before` in the phase `after` continues from.
    overlap = tone(1.0, phase=np.pi / 2)[-8000:]
    joined = crossfade_join(before, overlap, after)
    assert len(joined) == len(before) + len(after)
    assert largest_step(joined) <= 1.01 * natural


def test_an_upload_is_kept_as_ogg_of_the_same_length() -> None:
    stereo = np.stack([tone(1.5, rate=44100), tone(1.5, 330, rate=44100)], axis=1)
    buffer = io.BytesIO()
    sf.write(buffer, stereo, 44100, format="WAV")
    media = read_upload(buffer.getvalue())
    samples, rate = decode(media.data)
    assert media.mime_type == OGG_MIME and rate == 44100 and samples.shape == (66150, 2)


def _wav(seconds: float, rate: int = 8000) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, np.zeros(round(seconds * rate), dtype=np.float32), rate, format="WAV")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"RIFF\x00\x00not audio at all", "I could not decode that as audio"),
        (_wav(121), "that clip is 121 s long; I take clips up to 120 s"),
        (_wav(0.05), "that clip has no sound in it to build on"),
        (b"\x00" * (DISCORD_FILE_LIMIT + 1), "that file is 10.0 MiB; I take audio up to 10 MiB"),
    ],
)
def test_unusable_uploads_are_refused_in_one_line(data: bytes, message: str) -> None:
    with pytest.raises(UploadRejected) as refused:
        read_upload(data)
    assert str(refused.value).startswith(message) and "\n" not in str(refused.value)
