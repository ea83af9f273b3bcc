"""The export handed over with `/session export` and with the finale: the zip
(agent/sessions/export/) attached to the reply as a download, or a line saying why not."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agent.sessions.export import ExportTooLarge, SessionNotFound, export_session
from agent.store.media import MediaStore
from agent.types import Download, Reply

logger = logging.getLogger(__name__)


class SessionExports:
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
