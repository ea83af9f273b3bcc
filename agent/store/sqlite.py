"""An aiosqlite connection that makes fewer trips to its SQLite thread.

aiosqlite runs every call on a thread of its own, and SQLAlchemy's adapter makes four calls
per statement (make a cursor, execute, fetch all, close) plus one per commit and one per
rollback. Each call is a round trip to that thread, about 0.1 ms on a 2-core machine: most of
what appending a message or loading a context window cost (bench/memory.py). This connection
runs a statement's four calls in one trip, and skips commit and rollback when no transaction
is open (SQLite opens one only for writes, so reads cost a single trip).

It leans on aiosqlite internals (`_execute`, `_conn`, `_thread`), as SQLAlchemy's own adapter
does; pyproject.toml pins aiosqlite's minor version and every database test runs through it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable, Iterable, Sequence
from functools import partial
from typing import Any

import aiosqlite

Row = tuple[Any, ...]
Description = tuple[tuple[Any, ...], ...] | None


class OneTripCursor:
    """The part of aiosqlite's Cursor that SQLAlchemy uses, one trip per statement."""

    def __init__(self, connection: FewTripsConnection) -> None:
        self._connection = connection
        self._rows: list[Row] = []
        self.description: Description = None
        self.rowcount = -1
        self.lastrowid: int | None = None
        self.arraysize = 1

    async def __aenter__(self) -> OneTripCursor:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    async def execute(self, sql: str, parameters: Sequence[Any] = ()) -> OneTripCursor:
        return await self._run(partial(_execute_one, sql=sql, parameters=parameters))

    async def executemany(self, sql: str, parameters: Iterable[Sequence[Any]]) -> OneTripCursor:
        return await self._run(partial(_execute_many, sql=sql, parameters=parameters))

    async def fetchall(self) -> list[Row]:
        rows, self._rows = self._rows, []
        return rows

    async def fetchmany(self, size: int | None = None) -> list[Row]:
        count = size or self.arraysize
        rows, self._rows = self._rows[:count], self._rows[count:]
        return rows

    async def fetchone(self) -> Row | None:
        return self._rows.pop(0) if self._rows else None

    async def close(self) -> None:
        self._rows = []

    async def _run(self, statement: Callable[[sqlite3.Cursor], None]) -> OneTripCursor:
        outcome = await self._connection._execute(_on_sqlite_thread, self._connection, statement)
        self._rows, self.description, self.rowcount, self.lastrowid = outcome
        return self


class FewTripsConnection(aiosqlite.Connection):
    def cursor(self) -> OneTripCursor:  # type: ignore[override]
        return OneTripCursor(self)

    async def commit(self) -> None:
        if self.in_transaction:
            await super().commit()

    async def rollback(self) -> None:
        if self.in_transaction:
            await super().rollback()


def connector(database: str) -> Callable[[], Awaitable[FewTripsConnection]]:
    """An `async_creator` for SQLAlchemy's aiosqlite dialect."""

    async def connect() -> FewTripsConnection:
        # check_same_thread=False as SQLAlchemy's dialect sets it: the connection is made on
        # aiosqlite's thread but its pool hands it to whichever task needs it next.
        open_database = partial(sqlite3.connect, database, check_same_thread=False)
        connection = FewTripsConnection(open_database, iter_chunk_size=64)
        # Also as SQLAlchemy does: a connection nobody closed must not keep the process alive.
        connection._thread.daemon = True
        return await connection

    return connect


def _on_sqlite_thread(
    connection: FewTripsConnection, statement: Callable[[sqlite3.Cursor], None]
) -> tuple[list[Row], Description, int, int | None]:
    cursor = connection._conn.cursor()
    try:
        statement(cursor)
        rows = cursor.fetchall() if cursor.description else []
        return rows, cursor.description, cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()


def _execute_one(cursor: sqlite3.Cursor, *, sql: str, parameters: Sequence[Any]) -> None:
    cursor.execute(sql, parameters)


def _execute_many(cursor: sqlite3.Cursor, *, sql: str, parameters: Iterable[Sequence[Any]]) -> None:
    cursor.executemany(sql, parameters)
