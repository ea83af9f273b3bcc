"""The zip itself: its size before it is written, and writing it so that a half-written zip is
never seen under its real name (a temporary file beside it, fsynced, then renamed).

Text members are deflated; media are stored as they are (pictures and sound are compressed
already, and a stored member's size is known exactly, which is what fitting a limit needs).
"""

from __future__ import annotations

import zipfile
import zlib
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path

from agent.sessions.export.files import MediaFile, read_intact
from agent.store.media import MediaStore, atomic_file

# The fixed parts of a zip: a member's local header and central directory record (each also
# holds its name), and the end-of-central-directory record (APPNOTE 4.3.7, 4.3.12, 4.3.16).
_LOCAL_HEADER, _CENTRAL_RECORD, _END_RECORD = 30, 46, 22


def zip_size(texts: Mapping[str, str], media: Sequence[MediaFile]) -> int:
    """The size the zip will have on disk: texts deflated as zipfile deflates them, media
    stored. It writes nothing; `write_zip` is checked against it by the tests."""
    size = _END_RECORD
    for name, text in texts.items():
        size += _member(name) + len(_deflated(text.encode("utf-8")))
    return size + sum(stored_size(file) for file in media)


def stored_size(file: MediaFile) -> int:
    """What one media file adds to the zip: its bytes, stored, and its records."""
    return _member(file.zip_name) + (file.size or 0)


def write_zip(
    target: Path,
    texts: Mapping[str, str],
    media: Sequence[MediaFile],
    store: MediaStore,
    when: datetime,
) -> None:
    """Write the zip at `target` (blocking: call it from a worker thread)."""
    with atomic_file(target, f".{target.name}-") as raw, zipfile.ZipFile(raw, "w") as archive:
        for name, text in texts.items():
            archive.writestr(_info(name, when, zipfile.ZIP_DEFLATED), text)
        for file in media:
            data = read_intact(file, store)  # FileVanished: the caller re-plans
            archive.writestr(_info(file.zip_name, when, zipfile.ZIP_STORED), data)


def _member(name: str) -> int:
    return _LOCAL_HEADER + _CENTRAL_RECORD + 2 * len(name.encode("utf-8"))


def _deflated(data: bytes) -> bytes:
    # As zipfile compresses a member: raw deflate (no zlib header), its default level.
    compressor = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -15)
    return compressor.compress(data) + compressor.flush()


def _info(name: str, when: datetime, compression: int) -> zipfile.ZipInfo:
    stamp = when.timetuple()[:6]
    info = zipfile.ZipInfo(name, date_time=(max(stamp[0], 1980), *stamp[1:]))
    info.compress_type = compression
    info.external_attr = 0o644 << 16  # an ordinary readable file once unzipped
    return info
