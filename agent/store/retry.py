"""A transaction that survives the database going briefly away, or says so in one line.

PostgreSQL can drop a connection mid-turn (a restart, a failover, an operator's
pg_terminate_backend): SQLAlchemy then marks the error `connection_invalidated`. If that
happened before the commit was sent, the server rolled the transaction back and nothing of it
was kept, so it is safe to run it once more on a fresh connection. If it happened during the
commit, nobody can tell whether the commit landed: running it again could store the turn
twice, so it is not retried and the person is told it may not have been kept. SQLite's
"database is locked" means another writer held the lock past the busy timeout, which already
was the wait; it is not retried either. Each ends as one line for the person and one log line
for the operator, never a traceback.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

logger = logging.getLogger(__name__)

T = TypeVar("T")
Body = Callable[[AsyncSession], Awaitable[T]]
# What a database that is not answering raises: asyncpg's connect raises OSError subclasses
# as they are, not wrapped in SQLAlchemy's DBAPIError.
UNANSWERED = (DBAPIError, ConnectionError, TimeoutError)

NOT_ANSWERING = "The database is not answering; nothing was stored, try again in a moment."
MAYBE_KEPT = (
    "The database stopped answering while this was being saved; it may not have been kept. "
    "Look at /history in a moment before asking again."
)


class DatabaseUnavailable(Exception):
    """The database did not answer (after one retry where that was safe); nothing was stored.
    Its text is the one line the person is told."""

    def __init__(self, line: str = NOT_ANSWERING) -> None:
        super().__init__(line)


class CommitUncertain(DatabaseUnavailable):
    """The connection dropped while the commit was under way: the turn may have been stored.
    What it wrote to disk must stay, since a stored piece needs its file (the start-up sweep
    removes the files if the commit did not land)."""

    def __init__(self) -> None:
        super().__init__(MAYBE_KEPT)


async def transaction(
    sessions: async_sessionmaker[AsyncSession], body: Body[T], *, doing: str
) -> T:
    """`body` in one transaction, committed; run once more if the connection dropped before
    the commit. Raises DatabaseUnavailable (or CommitUncertain) for the person, `doing`
    naming the work in the operator's log line ("storing a turn"): one line per fault,
    whether the retry went through or not."""
    try:
        return await _attempt(sessions, body, doing)
    except UNANSWERED as error:
        if locked(error):
            raise _unavailable(doing, error, retried=False) from None
        if not dropped(error):
            raise
        lost = _first_line(error)
    try:
        result = await _attempt(sessions, body, doing)
    except UNANSWERED as error:
        if not (dropped(error) or locked(error)):
            raise
        raise _unavailable(doing, error, retried=True) from None
    logger.warning("database connection lost while %s (%s); the retry went through", doing, lost)
    return result


def not_answering(error: DBAPIError, *, doing: str) -> DatabaseUnavailable | None:
    """For a transaction outside `transaction` (not retried): the same one line when the
    database went away or stayed locked, logged for the operator; None for any other error."""
    if not (dropped(error) or locked(error)):
        return None
    return _unavailable(doing, error, retried=False)


def dropped(error: BaseException) -> bool:
    """A connection that went away (SQLAlchemy invalidated it) or could not be made (the
    server refused it, or did not answer in time), not a bad statement."""
    if isinstance(error, DBAPIError):
        return error.connection_invalidated
    return isinstance(error, ConnectionError | TimeoutError)


def locked(error: BaseException) -> bool:
    """SQLite's lock held by another writer past the busy timeout."""
    return isinstance(error, OperationalError) and "database is locked" in str(error.orig)


async def _attempt(sessions: async_sessionmaker[AsyncSession], body: Body[T], doing: str) -> T:
    committing = False
    try:
        async with sessions() as session:
            result = await body(session)
            await session.flush()  # so that only the COMMIT itself is left to fail below
            committing = True
            await session.commit()
            return result
    except DBAPIError as error:
        if committing and dropped(error):
            logger.error(
                "database connection lost during the commit while %s (%s): it may or may not "
                "have been stored, so it was not retried; check that the database is up",
                doing,
                _first_line(error),
            )
            raise CommitUncertain() from None
        raise


def _unavailable(doing: str, error: Exception, *, retried: bool) -> DatabaseUnavailable:
    if locked(error):
        logger.error(
            "SQLite database locked past its busy timeout while %s: another process is "
            "writing to it (a second bot on the same data directory?); nothing was stored",
            doing,
        )
    else:
        logger.error(
            "database not answering while %s%s (%s); nothing was stored: check that the "
            "database server is up and reachable",
            doing,
            ", even after a retry" if retried else "",
            _first_line(error),
        )
    return DatabaseUnavailable()


def _first_line(error: Exception) -> str:
    """The driver's message without SQLAlchemy's SQL and parameters (which can hold what
    people wrote)."""
    cause = error.orig if isinstance(error, DBAPIError) else error
    lines = str(cause).strip().splitlines()
    return f"{type(cause).__name__}: {lines[0] if lines else ''}"
