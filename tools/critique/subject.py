"""What a critique is of: a poem pasted in, or the piece in focus, and the files it can read.

A critique is never of another critique, and a piece it cannot read (no text, no file, a file
type it does not know, an image that does not decode) is refused with one line for the person
saying what it can critique.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image, UnidentifiedImageError

from tools.contract import ArtifactKind, FocusArtifact, ToolRefused

IMAGE_TYPES = {
    "image/png": "PNG",
    "image/jpeg": "JPEG",
    "image/webp": "WebP",
    "image/gif": "GIF",
    "image/bmp": "BMP",
    "image/x-portable-graymap": "PGM",
    "image/x-portable-pixmap": "PPM",
}
AUDIO_TYPES = {
    "audio/wav": "WAV",
    "audio/x-wav": "WAV",
    "audio/wave": "WAV",
    "audio/flac": "FLAC",
    "audio/x-flac": "FLAC",
    "audio/ogg": "OGG",
    "audio/mpeg": "MP3",
}
SUPPORTED = (
    "I can critique poems (as text, or pasted in the message), images ("
    + ", ".join(dict.fromkeys(IMAGE_TYPES.values()))
    + ") and music ("
    + ", ".join(dict.fromkeys(AUDIO_TYPES.values()))
    + ")."
)
ASK_WHICH = (
    "Which piece should I critique? Name it as #N, reply to it, upload an image or audio "
    "file, or paste a poem of two lines or more (lines split by new lines or ' / ')."
)


class CritiqueRefused(ToolRefused):
    """Nothing to critique, or a file the critique cannot read. The message is one line for
    the person; nothing is stored."""


@dataclass(frozen=True)
class Subject:
    kind: ArtifactKind
    number: int | None  # None: a poem pasted into the message
    made_from: str | None  # the prompt or description that made it; None for uploads
    text: str | None = None
    media_path: Path | None = None
    params: Mapping[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return f"#{self.number}" if self.number is not None else f"the {self.kind.value} you sent"


def subject_of(poem: str | None, form: str | None, focus: FocusArtifact | None) -> Subject:
    """The piece to critique: the poem given (pasted), else the piece in focus."""
    if poem is not None:
        return Subject(ArtifactKind.POEM, None, None, text=poem, params={"form": form})
    if focus is None:
        raise CritiqueRefused(ASK_WHICH)
    if focus.kind is ArtifactKind.CRITIQUE:
        raise CritiqueRefused(
            f"#{focus.number} is itself a critique. {ASK_WHICH.replace('Which', 'So which', 1)}"
        )
    made_from = _made_from(focus)
    if focus.kind is ArtifactKind.POEM:
        if not (focus.text or "").strip():
            raise CritiqueRefused(f"#{focus.number} has no text to read. {ASK_WHICH}")
        return Subject(focus.kind, focus.number, made_from, text=focus.text, params=focus.params)
    known = IMAGE_TYPES if focus.kind is ArtifactKind.IMAGE else AUDIO_TYPES
    if focus.media_path is None:
        raise CritiqueRefused(f"#{focus.number} has no {focus.kind.value} file to look at.")
    if (focus.mime_type or "").lower() not in known:
        raise CritiqueRefused(
            f"#{focus.number} is a file of type {focus.mime_type or 'unknown'}. {SUPPORTED}"
        )
    return Subject(
        focus.kind, focus.number, made_from, media_path=focus.media_path, params=focus.params
    )


def _made_from(focus: FocusArtifact) -> str | None:
    """What the piece was made from: none for an upload; else the full prompt a tool kept in
    its params (a variation's own prompt is only the change asked for), or the request."""
    if "upload" in focus.params:
        return None
    return str(focus.params.get("prompt") or focus.prompt) or None


def load_image(subject: Subject) -> Image.Image:
    assert subject.media_path is not None
    try:
        with Image.open(subject.media_path) as opened:
            opened.seek(0)  # the first frame of an animation
            return opened.convert("RGB")
    except (OSError, UnidentifiedImageError, Image.DecompressionBombError) as error:
        raise CritiqueRefused(
            f"I can't read {subject.name}'s image ({error}). {SUPPORTED}"
        ) from None
