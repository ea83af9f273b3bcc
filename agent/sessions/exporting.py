"""The export handed over with `/session export` and with the finale: the zip
(agent/sessions/export/) attached to the reply as a download, or a line saying why not.

`ZipExports` is what this and /export me (agent/personal_export/) both hold."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path
from typing import Self

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agent.sessions.export import ExportTooLarge, SessionNotFound, export_session
from agent.store.media import MediaStore
from agent.types import Download, Reply
from tools.units import MIB

logger = logging.getLogger(__name__)

EXPORTS_DIR = "exports"  # below the data directory: every export's zip


class ZipExports:
    """An export's answer: the database it reads, the media store, the folder its zips are
    written to, and the most bytes a zip may have (the platform's upload limit)."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        media: MediaStore,
        out_dir: Path,
        *,
        limit_bytes: int,
    ) -> None:
        self._sessions = sessions
        self._media = media
        self._out_dir = out_dir
        self._limit = limit_bytes

    @classmethod
    def in_data_dir(
        cls,
        sessions: async_sessionmaker[AsyncSession],
        media: MediaStore,
        data_dir: Path,
        *,
        file_limit_mb: int,
    ) -> Self:
        """Zips written below `data_dir`, each within the platform's file limit."""
        return cls(sessions, media, data_dir / EXPORTS_DIR, limit_bytes=file_limit_mb * MIB)


class SessionExports(ZipExports):
    async def attach(self, reply: Reply, group_id: int) -> Reply:
        """`reply` with the session's zip to download; its text says what was left out."""
        try:
            made = await export_session(
                self._sessions, group_id, self._media, self._out_dir, limit_bytes=self._limit
            )
        except ExportTooLarge:
            return replace(reply, text=reply.text + "\n(The export is over the upload limit.)")
        except SessionNotFound:  # forgotten by its last member meanwhile
            return replace(reply, text=reply.text + "\n(The session is gone: nothing to export.)")
        except OSError as error:  # the disk, not the person: the operator's log says more
            logger.exception("session %s: the export could not be written", group_id)
            said = f"\n(The export could not be written: {error.strerror or error}.)"
            return replace(reply, text=reply.text + said)
        note = ""
        if made.left_out:
            note = f"\n(Left out to fit the upload limit: {', '.join(made.left_out)}.)"
        download = Download(made.path, made.path.name)
        return replace(reply, text=reply.text + note, download=download)
