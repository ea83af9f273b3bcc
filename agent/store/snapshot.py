"""One consistent read: every statement of a transaction sees the same committed state, so an
export read in several queries never mixes two moments (a piece without its message)."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession


async def hold_one_snapshot(session: AsyncSession) -> None:
    """Call first in a transaction that only reads. PostgreSQL's default (read committed)
    takes a new snapshot per statement, so the transaction asks for repeatable read; SQLite's
    driver begins a transaction only before a write, so a read one is begun by hand (in WAL
    mode it then reads one snapshot until it ends)."""
    dialect = session.bind.dialect.name if session.bind else ""
    if dialect == "postgresql":
        await session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
    elif dialect == "sqlite":
        await session.execute(text("BEGIN"))
