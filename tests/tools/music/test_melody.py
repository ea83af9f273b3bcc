"""A tune played anew (mode "melody"): the clip in focus, an upload such as a hum, heard as
MusicGen-Melody hears it (its chromagram, computed here without torchaudio) and played as the
request says, on a tiny random-weight MusicGen-Melody loaded from disk. Different tunes make
different clips from the same words and seed; what is not a tune is refused in one line."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from agent.types import Attachment
from tests.support.studio_tools import PGM, PGM_HEADER, TRACE
from tests.support.threads import one_thread  # noqa: F401 - autouse
from tests.support.workshop import MakeWorkshop, Workshop
from tools.contract import ArtifactKind, Cancelled, FocusArtifact, ToolContext
from tools.models.registry import ModelRegistry
from tools.models.specs import ModelUnavailable
from tools.music.chroma import ChromaSettings, melody_chroma
from tools.music.files import decode, encode_wav
from tools.music.melody_model import load_melody_model
from tools.music.tool import MUSIC_TOOL, MusicArgs, compose

RATE = 32000
FRAME = RATE // 50
PLAY_AS = "use this tune for a string quartet"
# Pitch classes as the chroma numbers them, C first.
C, E, G, A = 0, 4, 7, 9


def tones(hertz: list[float], seconds_each: float, rate: int = 44100) -> np.ndarray:
    """A tune of sine notes, one after another."""
    t = np.arange(round(seconds_each * rate)) / rate
    return np.concatenate([0.4 * np.sin(2 * np.pi * f * t) for f in hertz]).astype(np.float32)


def wav_upload(samples: np.ndarray, name: str = "hum.wav", rate: int = 44100) -> Attachment:
    buffer = io.BytesIO()
    sf.write(buffer, samples, rate, format="WAV")
    return Attachment(name, "audio/wav", buffer.getvalue())


# --- the chroma -----------------------------------------------------------------------------


def test_the_chroma_is_one_pitch_class_a_frame_where_the_notes_are() -> None:
    settings = ChromaSettings()
    # 1 s of A4 then 1 s of C5, at 44.1 kHz: resampled to 32 kHz as the extractor does.
    chroma = melody_chroma(tones([440.0, 523.25], 1.0), 44100, settings)
    frames = 1 + 2 * RATE // settings.hop_length  # centred frames, a hop of 4096
    assert chroma.shape == (1, frames, 12) and chroma.dtype == torch.float32
    assert torch.equal(chroma.sum(dim=-1), torch.ones(1, frames))  # one-hot
    classes = chroma[0].argmax(dim=-1).tolist()
    assert classes[2] == A and classes[-3] == C


def test_a_clip_is_heard_up_to_thirty_seconds_and_a_short_one_padded_to_one_fft() -> None:
    settings = ChromaSettings()
    long = melody_chroma(tones([392.0], 40.0, RATE), RATE, settings)
    assert long.shape == (1, 235, 12)  # the model's chroma_length: 30 s
    short = melody_chroma(tones([329.63], 0.1, RATE), RATE, settings)
    assert short.shape == (1, 1 + settings.n_fft // settings.hop_length, 12)
    assert set(short[0].argmax(dim=-1).tolist()) == {E}


# --- through the agent ------------------------------------------------------------------------


@pytest.fixture
def studio(make_studio: MakeWorkshop, tiny_models: ModelRegistry) -> Workshop:
    return make_studio([MUSIC_TOOL, TRACE], models=tiny_models)


def hum_in_focus(tmp_path: Path, number: int, samples: np.ndarray) -> FocusArtifact:
    path = tmp_path / f"{number}.wav"
    path.write_bytes(encode_wav(samples, 44100))
    return FocusArtifact(number, ArtifactKind.MUSIC, "", None, path, "audio/wav", {})


def test_different_tunes_make_different_clips_from_the_same_words_and_seed(
    tmp_path: Path, tiny_models: ModelRegistry
) -> None:
    rising = hum_in_focus(tmp_path, 1, tones([261.63, 329.63, 392.0, 523.25], 0.4))
    falling = hum_in_focus(tmp_path, 2, tones([880.0, 698.46, 587.33, 466.16], 0.4))
    args = MusicArgs(description=PLAY_AS, mode="melody", seed=3, duration=1)
    drafts = [
        compose(args, ToolContext(models=tiny_models, focus=hum))
        for hum in (rising, falling, rising)
    ]
    clips = [decode(draft.media.data)[0] for draft in drafts if draft.media]
    assert all(abs(len(clip) - RATE) < FRAME for clip in clips)
    assert not np.array_equal(clips[0], clips[1])  # another tune, another clip
    assert np.array_equal(clips[0], clips[2])  # the same tune, words and seed: the same clip


async def test_an_uploaded_hum_becomes_the_tune_of_a_new_piece_made_from_it(
    studio: Workshop,
) -> None:
    hum = wav_upload(tones([261.63, 329.63, 392.0, 523.25], 0.4))
    reply = await studio.command(
        f"/music mode=melody seed=3 duration=1 {PLAY_AS}", attachments=[hum]
    )
    upload, clip = await studio.artifacts()
    assert (upload.kind, clip.kind, clip.mime_type) == ("music", "music", "audio/ogg")
    # A new piece made from the hum, not a version of it; the params say what it followed.
    assert (clip.parent_id, clip.root_id, clip.version) == (upload.id, None, 1)
    assert clip.params["melody_from"] == upload.id and clip.params["mode"] == "melody"
    assert clip.params["model"] == "tiny:musicgen-melody" and clip.text == PLAY_AS
    assert f"following the melody of #{upload.id} (its first 1.6 s)" in reply.text


async def test_a_file_that_is_not_audio_is_refused_in_one_line_and_nothing_kept(
    studio: Workshop,
) -> None:
    notes = Attachment("tune.txt", "text/plain", b"do re mi fa so")
    reply = await studio.command(f"/music mode=melody seed=1 {PLAY_AS}", attachments=[notes])
    assert reply.text.startswith("I can't use tune.txt (text/plain)") and "\n" not in reply.text
    broken = Attachment("hum.wav", "audio/wav", b"RIFF\x00\x00not audio at all")
    reply = await studio.command(f"/music mode=melody seed=1 {PLAY_AS}", attachments=[broken])
    assert (
        reply.text == "hum.wav: I could not decode that as audio; send a WAV, OGG, FLAC or MP3 file"
    )
    assert await studio.artifacts() == [] and studio.media_files() == []


async def test_a_picture_is_not_a_tune(studio: Workshop) -> None:
    grey = Attachment("mine.pgm", PGM, PGM_HEADER + bytes(range(256)))
    reply = await studio.command(f"/music mode=melody seed=1 {PLAY_AS}", attachments=[grey])
    assert reply.text == (
        "There is no music in focus to use as a melody; reply to a clip, name it as #N, or "
        "upload one."
    )
    [upload] = await studio.artifacts()
    assert upload.kind == "image"  # the upload is kept; no clip was made


def test_a_melody_model_that_is_not_there_names_its_setting(tmp_path: Path) -> None:
    for spec in ("facebook/musicgen-melody", "tiny:no-such-melody"):
        with pytest.raises(ModelUnavailable) as missing:
            load_melody_model(spec, cache_dir=tmp_path, device="cpu")
        assert "set ATELIER_MODEL_MUSIC_MELODY to tiny:musicgen-melody" in str(missing.value)
        assert "\n" not in str(missing.value)


def test_a_cancelled_melody_take_stops_at_its_next_step_and_makes_nothing(
    tmp_path: Path, tiny_models: ModelRegistry
) -> None:
    hum = hum_in_focus(tmp_path, 1, tones([440.0], 0.5))
    said: list[str] = []
    context = ToolContext(
        models=tiny_models, focus=hum, progress=lambda _fraction, label: said.append(label)
    )
    context.cancelled.set()
    with pytest.raises(Cancelled):
        compose(MusicArgs(description=PLAY_AS, mode="melody", seed=1, duration=1), context)
    assert said == ["composing"]  # it began, and stopped before a step was reported
