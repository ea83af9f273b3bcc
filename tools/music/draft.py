"""A finished clip as the tool returns it: the parameters that make it again, the tagged OGG
the person hears, and the WAV and PNG preview kept beside it as the piece's files."""

from __future__ import annotations

from typing import Any, Protocol

from tools.contract import ArtifactDraft, ArtifactKind, Media
from tools.music.files import (
    OGG_MIME,
    PNG_MIME,
    WAV_MIME,
    Tags,
    encode_ogg,
    encode_wav,
    preview_png,
)
from tools.music.take import Clip


class MadeBy(Protocol):
    """The model a clip was made with, as its params and tags name it (MusicGen, or
    MusicGen-Melody)."""

    spec: str

    @property
    def sampling_rate(self) -> int: ...


def clip_params(
    loaded: MadeBy,
    description: str,
    seed: int,
    seconds: float,
    guidance: float,
    mode: str,
) -> dict[str, Any]:
    """What every clip records; a mode adds its own (the piece extended, the poem set)."""
    return {
        "model": loaded.spec,
        "description": description,
        "seed": seed,
        "duration": round(seconds, 3),
        "guidance": guidance,
        "mode": mode,
        "sample_rate": loaded.sampling_rate,
    }


def clip_draft(
    clip: Clip,
    description: str,
    params: dict[str, Any],
    loaded: MadeBy,
    notes: list[str],
    *,
    from_focus: bool,
    focus_is_source: bool = False,
) -> ArtifactDraft:
    tags = Tags(description, int(params["seed"]), loaded.spec, clip.seconds)
    ogg = encode_ogg(clip.samples, clip.rate, tags)
    files = {
        "wav": Media(encode_wav(clip.samples, clip.rate, tags), WAV_MIME),
        "preview": Media(preview_png(clip.samples, clip.rate), PNG_MIME),
    }
    said = [*notes, f"{clip.seconds:.1f} s · seed {params['seed']} · {loaded.spec}"]
    return ArtifactDraft(
        ArtifactKind.MUSIC,
        text=description or None,
        media=Media(ogg, OGG_MIME),
        params=params,
        from_focus=from_focus,
        focus_is_source=focus_is_source,
        note=" · ".join(said),
        files=files,
    )
