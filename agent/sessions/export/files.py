"""The media files of an export: the name each gets inside the zip, its size, and which are
left out when the zip must fit an upload limit (the largest first).

Names are made from the piece's number (`media/12.png`, `media/12-preview.png`), never from
the store's paths or anything a person typed, so they are safe in a zip and in a page's link.
Each file is read through the MediaStore, which checks its bytes against the sha256 it was
stored under: a missing or changed file is left out as such, never shipped wrong.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import PurePosixPath

from agent.sessions.export.snapshot import PieceFacts, StoredFile
from agent.store.media import MediaCorrupted, MediaStore

MEDIA_DIR = "media"
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


class LeftOutReason(StrEnum):
    TOO_LARGE = "too large"  # left out so the zip fits the limit
    MISSING = "missing"  # not in the media store, or its bytes were changed


@dataclass(frozen=True)
class MediaFile:
    """One file as it will be (or would have been) in the zip."""

    zip_name: str
    piece: int
    stored: StoredFile
    size: int | None  # None when it could not be read


@dataclass(frozen=True)
class LeftOut:
    file: MediaFile
    reason: LeftOutReason


def media_files(pieces: Iterable[PieceFacts]) -> list[MediaFile]:
    """Every file of every piece with its name in the zip, sizes not yet known."""
    files: list[MediaFile] = []
    taken: set[str] = set()
    for piece in pieces:
        for stored in piece.files:
            name = _unique(zip_name(piece.number, stored), taken)
            taken.add(name)
            files.append(MediaFile(name, piece.number, stored, None))
    return files


def zip_name(number: int, stored: StoredFile) -> str:
    suffix = _UNSAFE.sub("", PurePosixPath(stored.path).suffix.lstrip("."))[:10]
    extension = f".{suffix}" if suffix else ""
    own = "" if stored.name is None else "-" + (_UNSAFE.sub("_", stored.name) or "file")
    return f"{MEDIA_DIR}/{number}{own}{extension}"


def _unique(name: str, taken: set[str]) -> str:
    """Two kept files whose names differ only in characters a zip name drops ("a b", "a_b")
    would meet under one name: the later gets a count."""
    path = PurePosixPath(name)
    count = 1
    while name in taken:
        count += 1
        name = str(path.with_stem(f"{path.stem}-{count}"))
    return name


class FileVanished(Exception):
    """A file that read back intact a moment ago no longer does (a /forget removed it while
    the export was being built): the export is planned again without it."""

    def __init__(self, file: MediaFile) -> None:
        super().__init__(f"{file.zip_name} is no longer in the media store")
        self.file = file


def read_intact(file: MediaFile, media: MediaStore) -> bytes:
    """The file's bytes as stored, checked against their sha256. Blocking."""
    try:
        return media.read(file.stored.path, file.stored.sha256)
    except (MediaCorrupted, ValueError, OSError) as error:
        raise FileVanished(file) from error


def measured(
    files: Sequence[MediaFile], media: MediaStore
) -> tuple[list[MediaFile], list[LeftOut]]:
    """The files that read back intact, with their sizes, and those that did not. Blocking:
    call it from a worker thread."""
    sized, missing = [], []
    for file in files:
        try:
            data = read_intact(file, media)
        except FileVanished:
            missing.append(LeftOut(file, LeftOutReason.MISSING))
            continue
        sized.append(MediaFile(file.zip_name, file.piece, file.stored, len(data)))
    return sized, missing


def largest(files: Sequence[MediaFile]) -> MediaFile:
    """The file to leave out next: the largest, the later piece's on a tie (stable output)."""
    return max(files, key=lambda file: (file.size or 0, file.piece, file.zip_name))
