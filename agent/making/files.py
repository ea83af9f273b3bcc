"""A run's media, written to the media store before its piece is stored, and removed again
if the piece is not.

Hashing, writing and fsync take tens of milliseconds for a few megabytes: they run in a
worker thread, never on the event loop, and always before the transaction that stores the
piece opens, so SQLite's write lock is never held across a disk flush.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from agent.store.media import MediaStore, StoredMedia
from tools.contract import ArtifactDraft, Media


@dataclass(frozen=True)
class StoredFiles:
    """What one draft wrote to the media store: its media, and its named files."""

    media: StoredMedia | None
    named: dict[str, StoredMedia]

    def every(self) -> list[StoredMedia]:
        return [*([self.media] if self.media else []), *self.named.values()]


async def write_files(
    media: MediaStore, drafts: Sequence[ArtifactDraft]
) -> tuple[StoredFiles, ...]:
    """Each draft's media and kept files in the store (in a thread), in order."""
    if all(draft.media is None and not draft.files for draft in drafts):
        return tuple(StoredFiles(None, {}) for _ in drafts)  # words only: nothing to write
    return await asyncio.to_thread(_write_all, media, drafts)


async def discard_files(media: MediaStore, stored: Sequence[StoredFiles]) -> None:
    """Undo `write_files` for pieces that were not stored (only files it created)."""
    await asyncio.to_thread(_discard_all, media, stored)


def _write_all(media: MediaStore, drafts: Sequence[ArtifactDraft]) -> tuple[StoredFiles, ...]:
    written: list[StoredMedia] = []  # every file so far, to undo a write that fails midway

    def put(one: Media) -> StoredMedia:
        written.append(media.put(one.data, one.mime_type))
        return written[-1]

    try:
        return tuple(
            StoredFiles(
                None if draft.media is None else put(draft.media),
                {name: put(one) for name, one in draft.files.items()},
            )
            for draft in drafts
        )
    except BaseException:
        _discard_all(media, [StoredFiles(None, {str(i): f for i, f in enumerate(written)})])
        raise


def _discard_all(media: MediaStore, stored: Sequence[StoredFiles]) -> None:
    for files in stored:
        for one in files.every():
            media.discard(one)
