"""A person's taste in music applied: a new clip takes the instruments, tempo and length most
of their kept clips share, only where the request leaves them open, and says so; a clip made
from another (an extension) follows that one instead."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tests.support.threads import one_thread  # noqa: F401 - autouse
from tools.contract import ArtifactKind, FocusArtifact, ToolContext
from tools.models.registry import ModelRegistry
from tools.music.files import encode_wav
from tools.music.tool import MusicArgs, compose

KEPT = (
    {"description": "slow solo piano, rain", "duration": 1.0},
    {"description": "slow piano with soft cello", "duration": 1.0},
    {"description": "a slow piano waltz", "duration": 3.0},
)


def test_a_request_that_leaves_them_open_gets_the_kept_clips_instruments_tempo_and_length(
    tiny_models: ModelRegistry,
) -> None:
    context = ToolContext(models=tiny_models, kept=KEPT)
    draft = compose(MusicArgs(description="a rainy night", seed=1), context)
    assert draft.text == "a rainy night, piano, slow"
    assert draft.params["duration"] == 1.0  # the kept clips' median, not the default 8 s
    assert draft.params["taste"] == {"instruments": ["piano"], "tempo": "slow", "duration": 1.0}
    assert draft.note and draft.note.startswith("from your kept clips: piano, slow, 1 s")


def test_what_the_request_names_is_kept(tiny_models: ModelRegistry) -> None:
    context = ToolContext(models=tiny_models, kept=KEPT)
    draft = compose(MusicArgs(description="a fast violin reel", duration=1, seed=1), context)
    assert draft.text == "a fast violin reel"
    assert "taste" not in draft.params and "kept clips" not in (draft.note or "")


def test_an_extension_follows_its_clip_not_the_taste(
    tmp_path: Path, tiny_models: ModelRegistry
) -> None:
    path = tmp_path / "1.wav"
    path.write_bytes(encode_wav(np.zeros(32000, dtype=np.float32), 32000))
    clip = FocusArtifact(
        1, ArtifactKind.MUSIC, "", None, path, "audio/wav", {"description": "rain on a roof"}
    )
    context = ToolContext(models=tiny_models, kept=KEPT, focus=clip)
    draft = compose(MusicArgs(mode="extend", duration=1, seed=1), context)
    assert draft.text == "rain on a roof"
    assert "taste" not in draft.params and "kept clips" not in (draft.note or "")
