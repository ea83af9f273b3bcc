"""A person's export: one zip with export.json, its schema and the media of their pieces,
built with the session export's zip helpers (agent/sessions/export/: file names, sizes known
before writing, the atomic write).

`export_person` reads everything in one read transaction (snapshot.py), then measures and
writes the zip in a worker thread, so the event loop never waits on the media store or the
disk. Nothing is left out to fit a limit: a person's own export is whole or not made, so a
zip over the limit is refused before a byte is written. A file missing from the media store
(or gone while the zip is written, a /forget meanwhile) is listed in export.json as missing.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from importlib.resources import files
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agent.personal_export.document import person_document
from agent.personal_export.snapshot import PersonSnapshot, read_person
from agent.sessions.export.archive import write_zip, zip_size
from agent.sessions.export.files import (
    FileVanished,
    LeftOut,
    LeftOutReason,
    MediaFile,
    measured,
    media_files,
)
from agent.store.media import MediaStore

DOCUMENT = "export.json"
SCHEMA = "export.schema.json"  # package data beside this file, and in the zip beside export.json


class NothingToExport(LookupError):
    """Atelier has no message and no piece of this person."""


class ExportTooLarge(Exception):
    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"the export would be {size} bytes, over the {limit}-byte limit")
        self.size = size
        self.limit = limit


@dataclass(frozen=True)
class Export:
    path: Path
    size: int
    snapshot: PersonSnapshot
    missing: tuple[str, ...]  # files listed as missing from the media store


def export_path(out_dir: Path, user_id: int) -> Path:
    """Where a person's zip is written (one per person: a new export replaces it)."""
    return out_dir / f"person-{user_id}.zip"


async def export_person(
    sessions: async_sessionmaker[AsyncSession],
    platform: str,
    external_id: str,
    media: MediaStore,
    out_dir: Path,
    *,
    limit_bytes: int,
) -> Export:
    """Write the person's zip in `out_dir` within `limit_bytes`. Raises NothingToExport, or
    ExportTooLarge (with nothing written)."""
    snapshot = await read_person(sessions, platform, external_id)
    if snapshot is None or snapshot.empty:
        raise NothingToExport(f"nothing stored for {platform} person {external_id}")
    target = export_path(out_dir, snapshot.user_id)
    return await asyncio.to_thread(_build, snapshot, media, target, limit_bytes)


def _build(snapshot: PersonSnapshot, media: MediaStore, target: Path, limit_bytes: int) -> Export:
    when = datetime.now(UTC)
    readable, missing = measured(media_files(p.facts for p in snapshot.pieces), media)
    while True:
        texts = _texts(snapshot, readable, missing, when)
        size = zip_size(texts, readable)
        if size > limit_bytes:
            raise ExportTooLarge(size, limit_bytes)
        try:
            write_zip(target, texts, readable, media, when)
        except FileVanished as vanished:
            readable.remove(vanished.file)
            missing.append(LeftOut(vanished.file, LeftOutReason.MISSING))
            continue
        return Export(target, size, snapshot, tuple(gone.file.zip_name for gone in missing))


def _texts(
    snapshot: PersonSnapshot, included: list[MediaFile], missing: list[LeftOut], when: datetime
) -> dict[str, str]:
    document = person_document(snapshot, included, missing, when)
    return {DOCUMENT: json.dumps(document, ensure_ascii=False, indent=2) + "\n", SCHEMA: schema()}


@cache
def schema() -> str:
    return files(__package__).joinpath(SCHEMA).read_text(encoding="utf-8")
