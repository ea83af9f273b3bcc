"""The async engine and the session factory, with the settings that protect stored data."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from agent.store.sqlite import connector as sqlite_connector

# Faults survived (agent/store/retry.py): how long a SQLite writer waits for another's lock,
# and how long a PostgreSQL connection may take to open, before the turn says the database
# is not answering (asyncpg's own default is a minute).
SQLITE_BUSY_S = 5.0
POSTGRES_CONNECT_S = 10.0


def create_engine(url: str, *, sqlite_busy_s: float = SQLITE_BUSY_S) -> AsyncEngine:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        connect = {"timeout": POSTGRES_CONNECT_S} if parsed.get_driver_name() == "asyncpg" else {}
        return create_async_engine(url, pool_pre_ping=True, connect_args=connect)
    # Only the file path is used from a SQLite URL: see agent/store/sqlite.py for why the
    # connection is made here rather than by the dialect.
    database = parsed.database or ":memory:"
    engine = create_async_engine(url, async_creator=sqlite_connector(database))
    event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    event.listen(engine.sync_engine, "connect", _sqlite_busy_wait(sqlite_busy_s))
    return engine


def _sqlite_busy_wait(seconds: float) -> Callable[[Any, Any], None]:
    def wait_for_locks(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={round(seconds * 1000)}")
        cursor.close()

    return wait_for_locks


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers and the writer overlap; NORMAL sync is durable across app crashes
    # (not power loss), the usual trade for a chat history; foreign keys are off by default.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def redact_url(url: str) -> str:
    """The URL with any password hidden, for messages and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparsable database URL>"
