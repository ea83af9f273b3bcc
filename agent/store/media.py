"""Content-addressed media store: <root>/ab/<sha256>.<ext>.

Files are named by the sha256 of their bytes, so the same image made twice is kept once and a
path can be checked against what was stored. Writes go to a temporary file in the target
directory and are renamed into place, so a crash never leaves a half-written file under a
real name.
"""

from __future__ import annotations

import hashlib
import logging
import mimetypes
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

logger = logging.getLogger(__name__)

# mimetypes knows these, but not always with the extension people expect.
_EXTENSIONS = {
    "audio/ogg": ".ogg",  # mimetypes says .oga; Discord picks its inline player by extension
    "audio/wav": ".wav",
    "audio/x-wav": ".wav",
    "image/jpeg": ".jpg",
    "text/plain": ".txt",
}


# A file being written; renamed to its real name once complete (agent/store/sweep.py removes
# any a crash left).
TEMPORARY_PREFIX = ".tmp-"


class MediaCorrupted(Exception):
    """A stored file is missing or its bytes no longer match the sha256 it was stored under."""


MEDIA_UNWRITABLE = (
    "I could not save the file: the media store is full or not writable. "
    "Nothing was stored; try again later."
)


class MediaUnwritable(Exception):
    """The store could not take a file (a directory that is not writable, a full disk). Its
    text is the person's one line; `for_operator` says which directory and what to do."""

    def __init__(self, directory: Path, error: OSError) -> None:
        super().__init__(MEDIA_UNWRITABLE)
        self.directory = directory
        self.reason = error.strerror or type(error).__name__

    @property
    def for_operator(self) -> str:
        return (
            f"the media store cannot write to {self.directory} ({self.reason}): free disk "
            "space there or make it writable by the user running atelier; nothing was stored"
        )


@dataclass(frozen=True)
class StoredMedia:
    path: str  # relative to the store's root, as kept in the database
    sha256: str
    mime_type: str
    created: bool  # False when identical bytes were already stored


class MediaStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def put(self, data: bytes, mime_type: str) -> StoredMedia:
        digest = hashlib.sha256(data).hexdigest()
        relative = f"{digest[:2]}/{digest}{extension_for(mime_type)}"
        target = self.root / relative
        try:
            created = not target.exists()
            if created:
                _write_atomically(target, data)
        except OSError as error:  # the temporary file is gone already (atomic_file)
            unwritable = MediaUnwritable(_nearest_directory(target.parent), error)
            logger.error("%s", unwritable.for_operator)
            raise unwritable from None
        return StoredMedia(relative, digest, mime_type, created)

    def read(self, relative: str, sha256: str) -> bytes:
        path = self.path(relative)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise MediaCorrupted(f"{relative} is missing from the media store") from None
        if hashlib.sha256(data).hexdigest() != sha256:
            raise MediaCorrupted(f"{relative} does not match its sha256; it was changed on disk")
        return data

    def path(self, relative: str) -> Path:
        path = (self.root / relative).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise ValueError(f"{relative!r} is outside the media store")
        return path

    def remove(self, relative: str) -> None:
        """Delete a file no artifact points at any more (after /forget)."""
        self.path(relative).unlink(missing_ok=True)

    def discard(self, stored: StoredMedia) -> None:
        """Undo a put whose artifact was never stored (only a file this put created). A
        file that cannot be removed now is left to the start-up sweep (agent/store/sweep.py)
        rather than failing the turn it is being undone for."""
        if not stored.created:
            return
        try:
            self.remove(stored.path)
        except OSError as error:
            logger.warning("could not remove %s from the media store (%s)", stored.path, error)


def _nearest_directory(path: Path) -> Path:
    """The deepest path that exists on the way to `path`: the one to fix."""
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def extension_for(mime_type: str) -> str:
    return _EXTENSIONS.get(mime_type) or mimetypes.guess_extension(mime_type) or ".bin"


def _write_atomically(target: Path, data: bytes) -> None:
    with atomic_file(target, TEMPORARY_PREFIX) as file:
        file.write(data)


@contextmanager
def atomic_file(target: Path, prefix: str) -> Iterator[BinaryIO]:
    """A file written under a temporary name beside `target`, flushed to disk and renamed
    into place only when the block completes: never seen half-written."""
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=prefix)
    try:
        with os.fdopen(handle, "wb") as file:
            yield file
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
