"""A group session's export: one zip with session.json, index.html and the media, fitting an
upload limit.

`export_session` reads everything in one read transaction (snapshot.py), then builds and
writes the zip in a worker thread, so the event loop never waits on the media store or the
disk. To fit the limit it leaves out the largest media first, until the zip's size (known
before writing: archive.zip_size) is within it; session.json and the page list what was left
out, and the page says "not included" in its place. A file that is missing from the media
store, or goes while the zip is written (a /forget meanwhile), is listed as missing instead.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agent.sessions.export.archive import stored_size, write_zip, zip_size
from agent.sessions.export.credits import credits
from agent.sessions.export.document import session_document
from agent.sessions.export.files import (
    FileVanished,
    LeftOut,
    LeftOutReason,
    MediaFile,
    largest,
    measured,
)
from agent.sessions.export.files import media_files as all_media_files
from agent.sessions.export.page import render_page
from agent.sessions.export.snapshot import Snapshot, read_snapshot
from agent.sessions.relay_lines import relay_poems
from agent.store.media import MediaStore

DOCUMENT = "session.json"
PAGE = "index.html"


class ExportTooLarge(Exception):
    """Even with every media file left out, session.json and the page exceed the limit."""


@dataclass(frozen=True)
class Export:
    path: Path  # the zip written
    left_out: tuple[str, ...]  # files left out to fit the limit


async def export_session(
    sessions: async_sessionmaker[AsyncSession],
    group_id: int,
    media: MediaStore,
    out_dir: Path,
    *,
    limit_bytes: int,
) -> Export:
    """Write `session-<group_id>.zip` in `out_dir` (replacing an earlier one) within
    `limit_bytes`. Raises SessionNotFound for an unknown session, ExportTooLarge when not even
    the text fits."""
    snapshot = await read_snapshot(sessions, group_id)
    target = out_dir / f"session-{group_id}.zip"
    return await asyncio.to_thread(_build, snapshot, media, target, limit_bytes)


def _build(snapshot: Snapshot, media: MediaStore, target: Path, limit_bytes: int) -> Export:
    when = datetime.now(UTC)
    readable, missing = measured(all_media_files(snapshot.pieces), media)
    while True:
        included = list(readable)
        texts, too_large = _fitted(snapshot, included, missing, limit_bytes, when)
        try:
            write_zip(target, texts, included, media, when)
        except FileVanished as vanished:
            readable.remove(vanished.file)
            missing.append(LeftOut(vanished.file, LeftOutReason.MISSING))
            continue
        return Export(target, tuple(gone.file.zip_name for gone in too_large))


def _fitted(
    snapshot: Snapshot,
    included: list[MediaFile],
    missing: list[LeftOut],
    limit_bytes: int,
    when: datetime,
) -> tuple[dict[str, str], list[LeftOut]]:
    """session.json and the page, with the largest files taken out of `included` until the
    zip fits the limit; returns the texts and what the limit left out."""
    too_large: list[LeftOut] = []
    while True:
        texts = _texts(snapshot, included, [*too_large, *missing], when)
        over = zip_size(texts, included) - limit_bytes
        if over <= 0:
            return texts, too_large
        if not included:
            raise ExportTooLarge(f"the session's text alone is over the {limit_bytes}-byte limit")
        too_large.extend(_leave_out(included, over))


def _leave_out(included: list[MediaFile], over: int) -> list[LeftOut]:
    """Take the largest files out of `included` until they free `over` bytes. The page and
    session.json grow a little with each file they list as left out, so the caller measures
    again (one more round at most, as a rule) rather than re-rendering after every file."""
    gone: list[LeftOut] = []
    freed = 0
    while included and freed < over:
        dropped = largest(included)
        included.remove(dropped)
        gone.append(LeftOut(dropped, LeftOutReason.TOO_LARGE))
        freed += stored_size(dropped)
    return gone


def _texts(
    snapshot: Snapshot, included: list[MediaFile], left_out: list[LeftOut], when: datetime
) -> dict[str, str]:
    poems = relay_poems(snapshot.pieces)
    document = session_document(snapshot, poems, credits(snapshot, poems), included, left_out, when)
    return {
        DOCUMENT: json.dumps(document, ensure_ascii=False, indent=2) + "\n",
        PAGE: render_page(document),
    }
