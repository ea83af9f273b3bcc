"""A PostgreSQL connection dropped mid-turn, as a server restart or an operator would drop it.

`ConnectionDropper.before(function, key)` wraps a coroutine function that takes the turn's
session first (add_artifact, find_or_create_user): before it runs, the backend serving that
session is terminated from another connection (pg_terminate_backend, waiting until it is
gone), so the call and the rest of its transaction meet a dead connection. How many times
each call is dropped is chosen per key (a person, a prompt), so one turn's retry can succeed
while another's fails again. `DropAtCommit` is a session class whose commit meets a dead
connection instead, once it is armed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

Call = Callable[..., Awaitable[Any]]


def asyncpg_dsn(url: str) -> str:
    """A SQLAlchemy postgresql+asyncpg URL as asyncpg's own DSN."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def terminate_backend(session: AsyncSession, dsn: str) -> None:
    """End the server process behind `session`'s connection, from a connection of its own."""
    raw = await (await session.connection()).get_raw_connection()
    pid = raw.driver_connection.get_server_pid()  # type: ignore[union-attr]
    admin = await asyncpg.connect(dsn)
    try:
        assert await admin.fetchval("SELECT pg_terminate_backend($1, 5000)", pid)
    finally:
        await admin.close()


class ConnectionDropper:
    def __init__(self, dsn: str, drops: Mapping[str, int]) -> None:
        self._dsn = dsn
        self._left = Counter(drops)
        self.dropped: Counter[str] = Counter()

    def before(self, function: Call, key: Callable[..., str]) -> Call:
        """`function`, with its session's connection dropped first while `key(*args,
        **kwargs)` has drops left."""

        async def dropping(session: AsyncSession, *args: Any, **kwargs: Any) -> Any:
            which = key(*args, **kwargs)
            if self._left[which] > 0:
                self._left[which] -= 1
                self.dropped[which] += 1
                await terminate_backend(session, self._dsn)
            return await function(session, *args, **kwargs)

        return dropping


class DropAtCommit(AsyncSession):
    """A session whose next commit, once `info["drop_at_commit"]` holds the DSN, is sent over
    a connection whose server process just ended."""

    async def commit(self) -> None:
        dsn = self.info.pop("drop_at_commit", None)
        if dsn is not None:
            await terminate_backend(self, dsn)
        await super().commit()
