"""Schema migrations through Alembic, driven from code (no alembic.ini needed).

These functions are synchronous and start their own event loop inside Alembic's env.py:
call them before the app's loop starts, or through asyncio.to_thread.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.util import CommandError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

import migrations
from agent.config import StartupError
from agent.store.engine import redact_url


class MigrationError(StartupError):
    """The database could not be opened or migrated."""


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(Path(migrations.__file__).parent))
    # ConfigParser treats % as interpolation; a password may contain one.
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    _run(command.upgrade, url, revision)


def downgrade(url: str, revision: str) -> None:
    _run(command.downgrade, url, revision)


def _run(step: Callable[[Config, str], None], url: str, revision: str) -> None:
    try:
        if url.startswith("sqlite"):
            _ensure_sqlite_parent(url)
        step(alembic_config(url), revision)
    except (OSError, ValueError, SQLAlchemyError, CommandError) as exc:
        raise MigrationError(
            f"cannot migrate the database {redact_url(url)}: {_reason(exc)}"
        ) from exc


def _ensure_sqlite_parent(url: str) -> None:
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)


def _reason(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
