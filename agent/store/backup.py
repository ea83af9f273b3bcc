"""`atelier db backup PATH` and `atelier db restore PATH`: the whole database in one file.

SQLite is copied with its online backup API: a consistent snapshot while the bot runs and
writes, without stopping it; the copy is written under a temporary name beside PATH and
renamed into place, so PATH is never half a backup. Restoring copies the backup into the live
database with the same API, in one step that either completes or leaves it as it was (and
that, unlike renaming a file over it, keeps SQLite's write-ahead log consistent). PostgreSQL
goes through pg_dump and pg_restore (agent/store/backup_pg.py).

A restore replaces everything, so it takes only a file that is an atelier database: one with
the migrations' `alembic_version` table, at a revision this version knows. The bot must be
stopped first (README: Backups); its next start migrates an older backup forward.

Blocking: the `atelier db` commands call these before any event loop runs.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
from contextlib import closing
from pathlib import Path

from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy.engine import make_url

from agent.config import StartupError
from agent.store import backup_pg
from agent.store.migrate import alembic_config

TEMPORARY_PREFIX = ".tmp-backup-"


class BackupError(StartupError):
    """A backup or restore could not be done; nothing was changed."""


def backup(url: str, target: Path) -> str:
    """Write the database at `url` to `target`; return a line saying what was written."""
    _check_target(target)
    if not url.startswith("sqlite"):
        backup_pg.dump(url, target)
    else:
        _sqlite_backup(_sqlite_file(url), target)
    return f"backed up the database to {target} ({target.stat().st_size / 1e6:.1f} MB)"


def restore(url: str, source: Path) -> str:
    """Replace the database at `url` with the backup at `source`; return a line saying so."""
    if not source.is_file():
        raise BackupError(f"there is no backup file at {source}")
    if not url.startswith("sqlite"):
        backup_pg.restore(url, source)
        return f"restored the database from {source}; start atelier again"
    revision = _sqlite_revision(source)
    _known_revision(url, revision, source)
    _sqlite_restore(source, _sqlite_file(url))
    return f"restored the database from {source} (revision {revision}); start atelier again"


def _check_target(target: Path) -> None:
    if target.is_dir():
        raise BackupError(f"{target} is a directory: give the backup file's name")
    if not target.parent.is_dir():
        raise BackupError(f"there is no directory {target.parent} to write the backup in")


def _sqlite_file(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise BackupError("the database is in memory: there is nothing on disk to back up")
    return Path(database)


def _sqlite_backup(database: Path, target: Path) -> None:
    if not database.is_file():
        raise BackupError(f"there is no database at {database} yet: nothing to back up")
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=TEMPORARY_PREFIX)
    os.close(handle)
    try:
        with (
            closing(_open_read_only(database)) as live,
            closing(sqlite3.connect(temporary)) as copy,
        ):
            live.backup(copy)
        _flush(Path(temporary))
        os.replace(temporary, target)
    except (sqlite3.Error, OSError) as exc:
        Path(temporary).unlink(missing_ok=True)
        raise BackupError(f"cannot back up {database} to {target}: {exc}") from None


def _sqlite_revision(source: Path) -> str:
    """The backup's migration revision; BackupError when it is no atelier database."""
    refusal = f"{source} is not an atelier backup (no alembic_version table); nothing changed"
    try:
        with closing(_open_read_only(source)) as backup_file:
            row = backup_file.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.Error:  # not a database at all, or one without the table
        raise BackupError(refusal) from None
    if row is None:
        raise BackupError(refusal)
    return str(row[0])


def _known_revision(url: str, revision: str, source: Path) -> None:
    try:
        known = ScriptDirectory.from_config(alembic_config(url)).get_revision(revision)
    except CommandError:
        known = None
    if known is None:
        raise BackupError(
            f"{source} was made by another version of atelier (revision {revision} is "
            "unknown here): restore it with that version; nothing changed"
        )


def _sqlite_restore(source: Path, database: Path) -> None:
    database.parent.mkdir(parents=True, exist_ok=True)
    try:
        with (
            closing(_open_read_only(source)) as backup_file,
            closing(sqlite3.connect(database, timeout=5.0)) as live,
        ):
            backup_file.backup(live)
    except (sqlite3.Error, OSError) as exc:
        raise BackupError(
            f"cannot restore into {database}: {exc} (is the bot still running? stop it first)"
        ) from None


def _open_read_only(path: Path) -> sqlite3.Connection:
    # Read-only by URI: a mistyped path fails instead of creating an empty database there.
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)


def _flush(path: Path) -> None:
    with path.open("rb") as file:
        os.fsync(file.fileno())
