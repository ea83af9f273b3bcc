"""/export me: the person's zip handed over as the Reply's download, or one line saying why
not. Always private: it is about one person's own things."""

from __future__ import annotations

import asyncio
import logging

from agent.personal_export.build import ExportTooLarge, NothingToExport, export_path, export_person
from agent.sessions.exporting import ZipExports
from agent.types import Download, Reply, Turn
from tools.units import KIB, MIB

logger = logging.getLogger(__name__)

EXPORT_COMMAND = "export"
USAGE = "`/export me`: a zip of your own messages and pieces."
NOTHING = "There is nothing of yours to export yet: no messages and no pieces."
FILENAME = "atelier-export.zip"


class PersonalExports(ZipExports):
    async def run(self, turn: Turn) -> Reply:
        assert turn.command is not None
        # Only "me": whose export it is comes from the turn, never from an option or a name.
        if turn.command.args or turn.command.text.strip().lower() not in ("", "me"):
            return _private(USAGE)
        try:
            made = await export_person(
                self._sessions,
                turn.platform,
                turn.user.external_id,
                self._media,
                self._out_dir,
                limit_bytes=self._limit,
            )
        except NothingToExport:
            return _private(NOTHING)
        except ExportTooLarge as over:
            return _private(
                f"Your export would be {_mib(over.size)}, over the {_mib(over.limit)} file "
                "limit, so nothing was written."
            )
        except OSError as error:  # the disk, not the person: one line each, for both
            logger.error("a personal export could not be written: %s", error)
            return _private(f"Your export could not be written ({error.strerror or 'disk'}).")
        snapshot = made.snapshot
        said = (
            f"Your export: {_count(len(snapshot.conversations), 'conversation')}, "
            f"{_count(sum(len(c.messages) for c in snapshot.conversations), 'message')}, "
            f"{_count(len(snapshot.pieces), 'piece')} ({_mib(made.size)})."
        )
        if made.missing:
            said += f" {_count(len(made.missing), 'file')} missing from the store are listed."
        return Reply(said, stored=False, private=True, download=Download(made.path, FILENAME))

    async def discard(self, user_id: int) -> None:
        """Remove the person's last export (after /forget: nothing of theirs stays)."""
        await asyncio.to_thread(export_path(self._out_dir, user_id).unlink, missing_ok=True)


def _private(text: str) -> Reply:
    return Reply(text, stored=False, private=True)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _mib(size: int) -> str:
    # Below a MiB in KiB: a tiny export is not "0.0 MiB".
    return f"{size / MIB:.1f} MiB" if size >= MIB else f"{max(size // KIB, 1)} KiB"
