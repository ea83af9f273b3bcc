"""The music tool through the agent, on a tiny random-weight MusicGen loaded from disk: clips
as long as asked, extensions that are child versions with no click at the join, a poem set to
music as a new piece made from the poem, tagged OGG files, previews, and bad requests
answered without storing anything.

The run reads no words: a request in words goes through the tool's reader here (`worded`),
its fields given as options, as the agent merges them for free text."""

from __future__ import annotations

import io
import threading
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from PIL import Image

from agent.types import Attachment
from tests.support.studio_tools import VERSE
from tests.support.threads import one_thread  # noqa: F401 - autouse
from tests.support.workshop import MakeWorkshop, Workshop
from tools.contract import ArtifactKind, Cancelled, FocusArtifact, ToolContext
from tools.models.registry import ModelRegistry
from tools.models.specs import ModelUnavailable
from tools.music.durations import clamp_seconds
from tools.music.extend import CROSSFADE_SECONDS
from tools.music.files import PREVIEW_SIZE, decode, largest_step, read_tags
from tools.music.focus import MusicRefused
from tools.music.model import ensure_tiny_music, load_music_model
from tools.music.setting import description_from_poem, usable_description
from tools.music.tool import MUSIC_TOOL, MusicArgs, compose

RATE = 32000
FRAME = RATE // 50  # samples per codec frame: MusicGen's EnCodec makes 50 frames a second


@pytest.fixture
def models(tiny_models: ModelRegistry) -> ModelRegistry:
    return tiny_models


@pytest.fixture
def studio(make_studio: MakeWorkshop, models: ModelRegistry) -> Workshop:
    return make_studio([MUSIC_TOOL, VERSE], models=models)


def worded(request: str) -> str:
    """A request in words as a command: the fields MUSIC_TOOL.reads finds in it as options
    ("mode=extend duration=1.5"), then the words themselves."""
    options = " ".join(f"{key}={value}" for key, value in MUSIC_TOOL.reads(request).items())
    return f"{options} {request}"


async def clip_of(studio: Workshop, number: int = -1) -> tuple[np.ndarray, bytes]:
    artifact = (await studio.artifacts())[number]
    data = studio.media.read(artifact.media_path, artifact.media_sha256)
    samples, rate = decode(data)
    assert rate == RATE
    return samples, data


async def test_a_clip_is_as_long_as_asked_and_its_file_says_what_made_it(
    studio: Workshop,
) -> None:
    reply = await studio.command("/music duration=1.37 seed=7 rainy night jazz, slow brushes")
    [artifact] = await studio.artifacts()
    samples, data = await clip_of(studio)
    assert artifact.kind == "music" and artifact.mime_type == "audio/ogg"
    # Within one codec frame of what was asked (it is cut to the exact sample).
    assert abs(len(samples) - 1.37 * RATE) < FRAME
    assert artifact.params["duration"] == 1.37 and artifact.params["seed"] == 7
    tags = read_tags(data)
    assert (tags.description, tags.seed, tags.model) == (
        "rainy night jazz, slow brushes",
        7,
        "tiny:music",
    )
    assert tags.duration == pytest.approx(1.37, abs=1e-3)
    assert "1.4 s · seed 7 · tiny:music" in reply.text


async def test_the_wav_and_preview_are_kept_with_the_clip_and_forgotten_with_it(
    studio: Workshop,
) -> None:
    reply = await studio.command("/music duration=1 seed=5 a lullaby on a music box")
    files = reply.artifacts[0].files
    assert sorted(files) == ["preview", "wav"]
    assert Image.open(files["preview"]).size == PREVIEW_SIZE
    wav, rate = decode(files["wav"].read_bytes())
    ogg, _ = await clip_of(studio)
    assert rate == RATE and len(wav) == len(ogg)
    await studio.command(f"/music {worded('extend #1 by 1 second')}")  # read from the WAV
    assert len(studio.media_files()) == 6
    await studio.command("/forget yes")
    assert studio.media_files() == []


async def test_the_same_seed_makes_the_same_clip(studio: Workshop) -> None:
    await studio.command("/music duration=1 seed=3 a march for toy soldiers")
    await studio.command("/music duration=1 seed=3 a march for toy soldiers")
    await studio.command("/music duration=1 seed=4 a march for toy soldiers")
    first, second, third = [(await clip_of(studio, n))[0] for n in range(3)]
    assert np.array_equal(first, second) and not np.array_equal(first, third)


async def test_a_length_out_of_bounds_is_clamped_with_a_note(studio: Workshop) -> None:
    reply = await studio.command("/music duration=0.2 seed=1 a sad violin melody")
    samples, _ = await clip_of(studio)
    assert "0.2 s is too short; made 1 s" in reply.text and len(samples) == RATE
    assert clamp_seconds(45) == (30, ["45 s is more than one take; made 30 s (extend it for more)"])
    assert clamp_seconds(None) == (8, [])


async def test_a_length_in_the_request_is_used(studio: Workshop) -> None:
    await studio.command(f"/music seed=1 {worded('two seconds of rain and soft synths')}")
    samples, _ = await clip_of(studio)
    assert len(samples) == 2 * RATE


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("/music", "What should the music sound like?"),
        ("/music    ", "What should the music sound like?"),
        ("/music guidance=20 jazz", "guidance='20': input should be less than or equal to 10"),
        ("/music duration=nan jazz", "duration"),
        ("/music mode=remix jazz", "mode"),
    ],
)
async def test_bad_requests_are_explained_and_nothing_is_made(
    studio: Workshop, line: str, expected: str
) -> None:
    reply = await studio.command(line)
    assert expected in reply.text and not reply.artifacts
    assert await studio.artifacts() == [] and studio.media_files() == []


async def test_an_extension_is_a_child_that_keeps_the_clip_and_joins_it_without_a_click(
    studio: Workshop,
) -> None:
    await studio.command("/music duration=2 seed=5 calm ambient synth pads")
    original, _ = await clip_of(studio)
    reply = await studio.command(f"/music seed=6 {worded('extend it by 1.5 seconds')}")
    first, extension = await studio.artifacts()
    longer, data = await clip_of(studio)
    assert (extension.parent_id, extension.root_id, extension.version) == (first.id, first.id, 2)
    assert abs(len(longer) - 3.5 * RATE) < FRAME
    assert read_tags(data).duration == pytest.approx(3.5, abs=1e-3)
    assert extension.params["description"] == "calm ambient synth pads"
    assert f"extended #{first.id} by 1.5 s to 3.5 s" in reply.text
    # The original is kept as it was up to the crossfade (its OGG decoded and re-encoded).
    fade = round(CROSSFADE_SECONDS * RATE)
    kept = len(original) - fade
    assert np.corrcoef(original[:kept], longer[:kept])[0, 1] > 0.95
    # No click: a crossfade's step is a blend of the two signals' own steps plus their gap
    # spread over 8000 samples, so the seam is no sharper than the music anywhere else. A
    # click would be a step several times the largest the clip makes elsewhere; 1.5x leaves
    # room for Vorbis ringing and nothing for a click.
    margin = RATE // 100  # 10 ms either side of the fade
    seam = slice(kept - margin, len(original) + margin)
    elsewhere = np.concatenate([longer[: seam.start], longer[seam.stop :]])
    assert largest_step(longer[seam]) <= 1.5 * largest_step(elsewhere)


async def test_an_uploaded_clip_can_be_extended(studio: Workshop) -> None:
    t = np.arange(22050) / 44100
    stereo = np.stack([np.sin(2 * np.pi * 220 * t), np.sin(2 * np.pi * 330 * t)], axis=1) * 0.4
    buffer = io.BytesIO()
    sf.write(buffer, stereo, 44100, format="WAV")
    upload = Attachment("hum.wav", "audio/wav", buffer.getvalue())
    extend_this = worded("extend this by one second")
    reply = await studio.command(f"/music seed=2 {extend_this}", attachments=[upload])
    kept, extension = await studio.artifacts()
    assert f"#{kept.id} was made mono at 32 kHz to continue it" in reply.text
    longer, _ = await clip_of(studio)
    assert (kept.kind, kept.mime_type, kept.params) == ("music", "audio/ogg", {"upload": "hum.wav"})
    assert extension.parent_id == kept.id
    assert abs(len(longer) - 1.5 * RATE) < FRAME


async def test_an_undecodable_upload_is_refused_and_nothing_is_kept(studio: Workshop) -> None:
    broken = Attachment("song.mp3", "audio/mpeg", b"ID3 this is not an mp3")
    reply = await studio.command("/music extend this", attachments=[broken])
    assert reply.text.startswith("song.mp3: I could not decode that as audio")
    assert await studio.artifacts() == [] and studio.media_files() == []


async def test_a_poem_set_to_music_is_a_new_piece_made_from_the_poem(studio: Workshop) -> None:
    await studio.command("/verse a heron in the rain")
    asked = worded("set this poem to music with a harp")
    reply = await studio.command(f"/music duration=1 seed=9 {asked}")
    poem, music = await studio.artifacts()
    assert music.kind == "music" and music.params["mode"] == "poem"
    # The lineage rule: a piece of another kind made from the focus has it as parent.
    assert music.parent_id == poem.id
    assert music.text and "harp" in music.text
    # The note says where the description came from, truthfully: the tiny chat model's
    # replies are noise, so it is built from the poem and the note says so.
    by_chat = music.params["described_by"] == "chat model"
    assert ("not a usable description of music" in reply.text) is not by_chat
    assert f"set #{poem.id} to music" in reply.text
    assert music.text in reply.text


def test_a_description_is_built_from_what_the_poem_has() -> None:
    poem = FocusArtifact(
        number=3,
        kind=ArtifactKind.POEM,
        prompt="rain",
        text="grey rain on the pond\nalone I count the drops\nthe tide of evening",
        media_path=None,
        mime_type=None,
        params={"form": "haiku", "tone": "wistful"},
    )
    description, evidence = description_from_poem(poem)
    assert description == "slow, sparse, wistful, melancholy, solo piano and cello"
    assert evidence == "its tone 'wistful' and its words grey, rain, alone and its form (haiku)"
    assert usable_description("slow wistful piano with soft strings") is not None
    assert usable_description("the the the of heron of") is None  # words, but no music
    assert usable_description("piano ???!!! 123 %%%% ### slow") is None  # mostly not words


async def test_a_suggestion_makes_a_new_take_with_the_description_amended(
    studio: Workshop,
) -> None:
    await studio.command("/music duration=1 seed=1 calm piano")
    assert MUSIC_TOOL.revision is not None
    args = MUSIC_TOOL.revision("make the drums softer")
    assert isinstance(args, MusicArgs) and args.mode == "rework"
    assert len(MUSIC_TOOL.revision("add a long countermelody " * 40).description) == 500  # type: ignore[attr-defined]
    await studio.command(f"/music duration=1 seed=2 {worded('make the drums softer')}")
    first, take = await studio.artifacts()
    assert take.parent_id == first.id and take.params["mode"] == "rework"
    assert take.params["description"] == "calm piano, make the drums softer"


def _context(models: ModelRegistry, **options: object) -> ToolContext:
    return ToolContext(models=models, **options)  # type: ignore[arg-type]


def test_the_draft_carries_the_wav_and_a_preview_of_the_fixed_size(
    models: ModelRegistry,
) -> None:
    draft = compose(MusicArgs(description="lofi beat", duration=1, seed=1), _context(models))
    assert draft.media is not None
    preview = Image.open(io.BytesIO(draft.files["preview"].data))
    assert preview.format == "PNG" and preview.size == PREVIEW_SIZE
    wav, rate = decode(draft.files["wav"].data)
    ogg, _ = decode(draft.media.data)
    assert draft.files["wav"].data[:4] == b"RIFF" and rate == RATE and len(wav) == len(ogg)


def test_progress_follows_the_generated_tokens_and_a_cancel_stops_between_steps(
    models: ModelRegistry,
) -> None:
    reports: list[tuple[float, str]] = []
    compose(
        MusicArgs(description="lofi beat", duration=1, seed=1),
        _context(models, progress=lambda fraction, label: reports.append((fraction, label))),
    )
    fractions = [fraction for fraction, _ in reports]
    assert fractions == sorted(fractions) and len(fractions) > 10
    assert reports[-1] == (pytest.approx(0.9), "composing 1.0 of 1 s")

    cancelled = threading.Event()
    seen: list[float] = []

    def cancel_once_started(fraction: float, label: str) -> None:
        seen.append(fraction)
        if label.startswith("composing "):
            cancelled.set()

    with pytest.raises(Cancelled):
        compose(
            MusicArgs(description="lofi beat", duration=30, seed=1),
            _context(models, progress=cancel_once_started, cancelled=cancelled),
        )
    assert max(seen) < 0.2  # stopped within a step or two, not after 30 s of audio


def test_the_run_reads_no_words_only_the_mode_it_is_given(models: ModelRegistry) -> None:
    """The words are MUSIC_TOOL.reads' (tools/music/intents.py); without a mode it is new."""
    words = "set #3 to music, then extend it by 5 seconds"
    draft = compose(MusicArgs(description=words, duration=1, seed=1), _context(models))
    assert draft.params["mode"] == "new" and draft.params["duration"] == 1
    assert not draft.from_focus


def test_extending_or_setting_what_is_not_in_focus_is_refused(models: ModelRegistry) -> None:
    with pytest.raises(MusicRefused, match="There is no music in focus to extend"):
        compose(MusicArgs(mode="extend"), _context(models))
    with pytest.raises(MusicRefused, match="There is no poem in focus to set to music"):
        compose(MusicArgs(mode="poem"), _context(models))


def test_a_piece_at_the_length_limit_is_not_extended(models: ModelRegistry, tmp_path: Path) -> None:
    path = tmp_path / "long.wav"
    sf.write(path, np.zeros(119_500 * 32, dtype=np.float32), RATE)  # 119.5 s
    focus = FocusArtifact(
        number=4,
        kind=ArtifactKind.MUSIC,
        prompt="drone",
        text=None,
        media_path=path,
        mime_type="audio/wav",
        params={"description": "drone"},
    )
    with pytest.raises(MusicRefused, match="#4 is already 120 s long; pieces stop at 120 s"):
        asked = MusicArgs(description="extend it", **MUSIC_TOOL.reads("extend it"))
        compose(asked, _context(models, focus=focus))


def test_the_tiny_model_is_the_real_classes_loaded_from_disk(models_cache_dir: Path) -> None:
    directory = ensure_tiny_music(models_cache_dir)
    assert (directory / "config.json").is_file()
    assert (directory / "processor_config.json").is_file()
    loaded = load_music_model(str(directory), cache_dir=models_cache_dir, device="cpu")
    assert type(loaded.model).__name__ == "MusicgenForConditionalGeneration"
    assert type(loaded.processor).__name__ == "MusicgenProcessor"
    assert (loaded.sampling_rate, loaded.frame_rate, loaded.codebooks) == (RATE, 50, 4)
    assert loaded.dtype == torch.float32 and loaded.steps_for(8) == 8 * 50 + 3


@pytest.mark.parametrize(
    ("spec", "reason"),
    [
        ("facebook/musicgen-small", "offline and not in the local cache"),
        ("tiny:musik", "no such built-in music model"),
        ("not a spec", "not a music model spec"),
    ],
)
def test_a_music_model_that_cannot_be_had_says_so_in_one_line(
    tmp_path: Path, spec: str, reason: str
) -> None:
    with pytest.raises(ModelUnavailable) as unavailable:
        load_music_model(spec, cache_dir=tmp_path, device="cpu")
    message = str(unavailable.value)
    assert reason in message and "ATELIER_MODEL_MUSIC" in message and "\n" not in message


def test_a_sessions_shared_style_joins_the_description(models: ModelRegistry) -> None:
    args = MusicArgs(description="lofi beat", duration=1, seed=1)
    draft = compose(args, _context(models, style="with a harp"))
    assert draft.params["description"] == "lofi beat, with a harp"
