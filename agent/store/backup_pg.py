"""PostgreSQL backups through the client tools: `pg_dump -Fc` and `pg_restore --clean`.

The dump is PostgreSQL's own consistent snapshot (taken while the bot runs), written under a
temporary name and renamed into place. A restore first lists the dump, refusing a file that
is not one or that holds no `alembic_version` table, then replaces the schema's objects in
one transaction: a failure part way leaves the database as it was. The password travels in
PGPASSWORD, never on a command line another user could read in `ps`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from sqlalchemy.engine import URL, make_url

from agent.config import StartupError
from agent.store.engine import redact_url

TEMPORARY_PREFIX = ".tmp-backup-"
INSTALL_HINT = (
    "install the PostgreSQL client tools (e.g. `apt install postgresql-client`, the same "
    "major version as the server) and try again"
)


class PgBackupError(StartupError):
    """pg_dump or pg_restore could not do it; nothing was changed."""


def dump(url: str, target: Path) -> None:
    program = _program("pg_dump", "back up")
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=TEMPORARY_PREFIX)
    os.close(handle)
    try:
        _run([program, "--format=custom", f"--file={temporary}", *_connection(url)], url)
        os.replace(temporary, target)
    finally:
        Path(temporary).unlink(missing_ok=True)


def restore(url: str, source: Path) -> None:
    program = _program("pg_restore", "restore")
    listing = subprocess.run(
        [program, "--list", str(source)], capture_output=True, text=True, check=False
    )
    if listing.returncode != 0 or " alembic_version " not in listing.stdout:
        raise PgBackupError(
            f"{source} is not an atelier backup (pg_restore cannot read it as one); nothing changed"
        )
    _run(
        [
            program,
            "--clean",
            "--if-exists",
            "--no-owner",
            "--single-transaction",
            "--exit-on-error",
            *_connection(url),
            str(source),
        ],
        url,
    )


def _program(name: str, action: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise PgBackupError(
            f"{name} is not on PATH, and it is what atelier uses to {action} "
            f"a PostgreSQL database: {INSTALL_HINT}"
        )
    return found


def _connection(url: str) -> list[str]:
    parsed = make_url(url)
    options = [f"--dbname={parsed.database or ''}"]
    if parsed.host:
        options.append(f"--host={parsed.host}")
    if parsed.port:
        options.append(f"--port={parsed.port}")
    if parsed.username:
        options.append(f"--username={parsed.username}")
    return [*options, "--no-password"]  # never wait for a prompt: PGPASSWORD or fail


def _run(command: list[str], url: str) -> None:
    result = subprocess.run(
        command, capture_output=True, text=True, env=_environment(make_url(url)), check=False
    )
    if result.returncode != 0:
        lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
        reason = lines[0] if lines else f"exit status {result.returncode}"
        name = Path(command[0]).name
        raise PgBackupError(f"{name} failed on {redact_url(url)}: {reason}")


def _environment(parsed: URL) -> dict[str, str]:
    environment = dict(os.environ)
    if parsed.password:
        environment["PGPASSWORD"] = str(parsed.password)
    return environment
