"""Audio in and out: OGG Vorbis for Discord with tags, WAV, a PNG preview, joins, uploads.

Discord plays an .ogg attachment inline and refuses files over 10 MiB by default; Vorbis at
libsndfile's default quality keeps two minutes of 32 kHz audio near 1 MiB, so the OGG is what
the person hears. The WAV (16-bit PCM) is the lossless copy to build on.

Tags are Vorbis comments written through libsndfile's string metadata: the description is
the title, and `seed=...; model=...; duration=...` the comment, so any player shows them
and `read_tags` gets them back.

Samples are float32 numpy arrays in [-1, 1]: mono as (samples,), several channels as
(samples, channels), as soundfile reads them.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass
from math import gcd

import numpy as np
import soundfile as sf
from PIL import Image, ImageDraw
from scipy.signal import resample_poly

from tools.contract import Media, UploadReader, UploadRejected
from tools.units import MIB

# Discord's default attachment limit; an OGG over it would not be shown at all.
DISCORD_FILE_LIMIT = 10 * MIB
UPLOAD_MAX_SECONDS = 120.0
UPLOAD_MIN_SECONDS = 0.1
OGG_MIME = "audio/ogg"
WAV_MIME = "audio/wav"
PNG_MIME = "image/png"
# libvorbis allocates on the stack in proportion to one write call's length; whole clips in
# one call have crashed the process (libsndfile issue #1095), so write in blocks.
_WRITE_BLOCK = 32768
# Vorbis comment fields libsndfile can write, and what atelier keeps in them.
_TITLE, _COMMENT, _ARTIST = "title", "comment", "artist"

PREVIEW_WIDTH = 800
WAVE_HEIGHT = 80
SPECTRUM_HEIGHT = 160
PREVIEW_SIZE = (PREVIEW_WIDTH, WAVE_HEIGHT + SPECTRUM_HEIGHT)
_FFT_SIZE = 1024
_DB_RANGE = 80.0
_LOWEST_HZ = 40.0
# A magma-like ramp, dark to bright: quiet is dark, loud is pale yellow.
_COLOUR_STOPS = np.array(
    [
        [0, 0, 4],
        [59, 15, 112],
        [140, 41, 129],
        [222, 73, 104],
        [254, 159, 109],
        [252, 253, 191],
    ],
    dtype=np.float64,
)

UPLOAD_MIME_TYPES = (
    "audio/ogg",
    "audio/opus",
    "audio/wav",
    "audio/x-wav",
    "audio/wave",
    "audio/vnd.wave",
    "audio/flac",
    "audio/x-flac",
    "audio/mpeg",
    "audio/mp3",
)


@dataclass(frozen=True)
class Tags:
    """What a clip's file says about it."""

    description: str
    seed: int | None
    model: str
    duration: float

    def comment(self) -> str:
        seed = "" if self.seed is None else str(self.seed)
        return f"seed={seed}; model={self.model}; duration={self.duration:.3f}"


# --- encoding -----------------------------------------------------------------------------


def encode_ogg(samples: np.ndarray, rate: int, tags: Tags | None = None) -> bytes:
    """OGG Vorbis at libsndfile's default quality, tagged; at the lowest quality instead in
    the unlikely case the default would pass Discord's limit (raises ValueError if even that
    does)."""
    for quality in (None, 1.0):  # soundfile's compression_level: 1.0 is the smallest file
        data = _write(samples, rate, "OGG", "VORBIS", tags, compression_level=quality)
        if len(data) <= DISCORD_FILE_LIMIT:
            return data
    raise ValueError(f"the OGG would be {len(data) / MIB:.1f} MiB, over Discord's 10 MiB")


def encode_wav(samples: np.ndarray, rate: int, tags: Tags | None = None) -> bytes:
    return _write(samples, rate, "WAV", "PCM_16", tags)


def _write(
    samples: np.ndarray,
    rate: int,
    container: str,
    subtype: str,
    tags: Tags | None,
    compression_level: float | None = None,
) -> bytes:
    channels = 1 if samples.ndim == 1 else samples.shape[1]
    buffer = io.BytesIO()
    clipped = np.clip(samples, -1.0, 1.0).astype(np.float32)
    with sf.SoundFile(
        buffer,
        "w",
        samplerate=rate,
        channels=channels,
        format=container,
        subtype=subtype,
        compression_level=compression_level,
    ) as out:
        if tags is not None:
            if tags.description:  # libsndfile refuses an empty string ("bad string")
                out.title = tags.description
            out.artist = "atelier"
            out.comment = tags.comment()
        for start in range(0, len(clipped), _WRITE_BLOCK):
            out.write(clipped[start : start + _WRITE_BLOCK])
    return buffer.getvalue()


# --- decoding -----------------------------------------------------------------------------


def decode(data: bytes) -> tuple[np.ndarray, int]:
    """Samples (float32) and rate of any format libsndfile reads (WAV, OGG, FLAC, MP3 ...).
    Raises sf.LibsndfileError (a RuntimeError) for bytes it cannot read."""
    samples, rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=False)
    return samples, rate


def read_tags(data: bytes) -> Tags:
    """The tags `encode_ogg` wrote (missing fields come back empty)."""
    with sf.SoundFile(io.BytesIO(data)) as audio:
        metadata = audio.copy_metadata()
    fields = _comment_fields(metadata.get(_COMMENT, ""))
    seed = fields.get("seed", "")
    duration = fields.get("duration", "")
    return Tags(
        description=metadata.get(_TITLE, ""),
        seed=int(seed) if seed.isdigit() else None,
        model=fields.get("model", ""),
        duration=float(duration) if duration else 0.0,
    )


def _comment_fields(comment: str) -> Mapping[str, str]:
    pairs = (part.split("=", 1) for part in comment.split("; ") if "=" in part)
    return {key.strip(): value.strip() for key, value in pairs}


def to_mono(samples: np.ndarray) -> np.ndarray:
    return samples if samples.ndim == 1 else samples.mean(axis=1).astype(np.float32)


def resample(samples: np.ndarray, rate: int, target: int) -> np.ndarray:
    """Mono samples at `target` Hz (polyphase filtering: no aliasing, exact length ratio)."""
    if rate == target:
        return samples.astype(np.float32)
    common = gcd(rate, target)
    return resample_poly(samples, target // common, rate // common).astype(np.float32)


# --- joining ------------------------------------------------------------------------------


def crossfade_join(before: np.ndarray, overlap: np.ndarray, after: np.ndarray) -> np.ndarray:
    """`before` then `after`, where `overlap` is another rendering of the end of `before`
    that `after` continues from: the last len(overlap) samples of `before` fade linearly
    into `overlap`, so the join has no step. Linear, not equal-power: the two are renderings
    of the same music, so their sum keeps its level across the fade.
    """
    length = len(overlap)
    if length == 0 or length > len(before):
        raise ValueError("the overlap must be 1 to len(before) samples long")
    rising = np.linspace(0.0, 1.0, length, dtype=np.float32)
    faded = before[-length:] * (1.0 - rising) + overlap * rising
    return np.concatenate([before[:-length], faded, after]).astype(np.float32)


def largest_step(samples: np.ndarray) -> float:
    """The largest change from one sample to the next: a click shows up as a step far above
    what the music itself does anywhere else."""
    return float(np.abs(np.diff(samples)).max()) if len(samples) > 1 else 0.0


# --- preview ------------------------------------------------------------------------------


def preview_png(samples: np.ndarray, rate: int) -> bytes:
    """A PREVIEW_SIZE picture: the waveform (each column's lowest and highest sample, scaled
    to the clip's peak) over a spectrogram on a log-frequency axis from 40 Hz to Nyquist."""
    mono = to_mono(samples)
    image = Image.new("RGB", PREVIEW_SIZE, (16, 16, 24))
    _draw_wave(ImageDraw.Draw(image), mono)
    image.paste(Image.fromarray(_spectrogram_rgb(mono, rate)), (0, WAVE_HEIGHT))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _draw_wave(draw: ImageDraw.ImageDraw, mono: np.ndarray) -> None:
    middle = WAVE_HEIGHT / 2
    draw.line([(0, middle), (PREVIEW_WIDTH, middle)], fill=(60, 60, 80))
    if len(mono) == 0:
        return
    peak = float(np.abs(mono).max()) or 1.0
    edges = np.linspace(0, len(mono), PREVIEW_WIDTH + 1).astype(int)
    for x in range(PREVIEW_WIDTH):
        column = mono[edges[x] : max(edges[x + 1], edges[x] + 1)]
        high, low = float(column.max()) / peak, float(column.min()) / peak
        draw.line(
            [(x, middle - high * (middle - 2)), (x, middle - low * (middle - 2))],
            fill=(120, 200, 255),
        )


def _spectrogram_rgb(mono: np.ndarray, rate: int) -> np.ndarray:
    """(SPECTRUM_HEIGHT, PREVIEW_WIDTH, 3) uint8: one FFT frame per column, centred on the
    column's time, dB relative to the loudest bin over an 80 dB range, low notes at the bottom."""
    padded = np.pad(mono, (_FFT_SIZE // 2, _FFT_SIZE // 2))
    centres = np.linspace(0, len(mono), PREVIEW_WIDTH, endpoint=False).astype(int)
    frames = np.stack([padded[c : c + _FFT_SIZE] for c in centres]) * np.hanning(_FFT_SIZE)
    magnitude = np.abs(np.fft.rfft(frames, axis=1))  # (width, bins)
    decibels = 20 * np.log10(magnitude + 1e-9)
    level = np.clip((decibels - decibels.max() + _DB_RANGE) / _DB_RANGE, 0.0, 1.0)
    nyquist = rate / 2
    hertz = np.geomspace(min(_LOWEST_HZ, nyquist / 2), nyquist, SPECTRUM_HEIGHT)
    bins = np.minimum((hertz / nyquist * (_FFT_SIZE // 2)).astype(int), _FFT_SIZE // 2)
    rows = level[:, bins].T[::-1]  # (height, width), highest frequency on top
    return _colour(rows)


def _colour(level: np.ndarray) -> np.ndarray:
    positions = np.linspace(0.0, 1.0, len(_COLOUR_STOPS))
    channels = [np.interp(level, positions, _COLOUR_STOPS[:, c]) for c in range(3)]
    return np.stack(channels, axis=-1).astype(np.uint8)


# --- uploads ------------------------------------------------------------------------------


def read_upload(data: bytes) -> Media:
    """An uploaded clip to build on, kept as OGG Vorbis at its own rate and channels.

    Refused (UploadRejected, one line): over 10 MiB, not audio libsndfile can decode, shorter
    than a tenth of a second, or longer than two minutes (the longest piece atelier makes).
    """
    if len(data) > DISCORD_FILE_LIMIT:
        raise UploadRejected(f"that file is {len(data) / MIB:.1f} MiB; I take audio up to 10 MiB")
    try:
        with sf.SoundFile(io.BytesIO(data)) as audio:
            rate, frames = audio.samplerate, audio.frames
            # Checked before decoding: a small FLAC can hold hours of audio.
            if frames > UPLOAD_MAX_SECONDS * rate:
                raise UploadRejected(
                    f"that clip is {frames / rate:.0f} s long; I take clips up to "
                    f"{UPLOAD_MAX_SECONDS:.0f} s"
                )
            samples = audio.read(dtype="float32", always_2d=False)
    except sf.LibsndfileError:
        raise UploadRejected(
            "I could not decode that as audio; send a WAV, OGG, FLAC or MP3 file"
        ) from None
    if len(samples) < UPLOAD_MIN_SECONDS * rate:
        raise UploadRejected("that clip has no sound in it to build on")
    return Media(encode_ogg(samples, rate), OGG_MIME)


AUDIO_UPLOADS = UploadReader(mime_types=UPLOAD_MIME_TYPES, read=read_upload)
