"""The start-up sweep of the media store: what a crash left behind.

A turn writes its files before the transaction that stores their pieces (agent/making/
files.py), so a process killed between the two leaves files no piece points at; one killed
mid-write leaves a `.tmp-` file. When the bot starts, before any turn runs, every such file is
removed: nothing in the store is then without its piece (and no piece without its file, since
a piece is only stored after its files are). This holds for one bot process per media store,
the embedded default.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select, union
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agent.store.db import Artifact, ArtifactFile
from agent.store.media import TEMPORARY_PREFIX, MediaStore

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Swept:
    orphans: int  # finished files no piece points at
    temporary: int  # half-written files


async def sweep_media(sessions: async_sessionmaker[AsyncSession], media: MediaStore) -> Swept:
    """Remove the files no stored piece points at; call before the first turn runs."""
    async with sessions() as session:
        kept = await _referenced(session)
    swept = await asyncio.to_thread(_remove_strays, media.root, kept)
    if swept.orphans or swept.temporary:
        logger.info(
            "media store: removed %d files no piece pointed at and %d half-written ones, "
            "left by an earlier stop",
            swept.orphans,
            swept.temporary,
        )
    return swept


async def _referenced(session: AsyncSession) -> set[str]:
    media = select(Artifact.media_path).where(Artifact.media_path.is_not(None))
    query = union(media, select(ArtifactFile.path))
    return {path for path in (await session.execute(query)).scalars() if path}


def _remove_strays(root: Path, kept: set[str]) -> Swept:
    orphans = temporary = 0
    if not root.is_dir():
        return Swept(0, 0)
    for path in root.rglob("*"):
        if not path.is_file():
            continue
        if path.name.startswith(TEMPORARY_PREFIX):
            path.unlink(missing_ok=True)
            temporary += 1
        elif path.relative_to(root).as_posix() not in kept:
            path.unlink(missing_ok=True)
            orphans += 1
    return Swept(orphans, temporary)
