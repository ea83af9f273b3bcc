"""Alembic environment: async engines for the app, a given connection or engine for tests.

pytest-alembic hands its own connection (or async engine) in config.attributes["connection"];
atelier itself passes only a URL, and migrations then run on an async engine.
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

# The feature folders' models sit on the same Base: imported so autogenerate and the
# migration tests see every table.
import agent.ledger.models  # noqa: F401
import agent.policy.models  # noqa: F401
from agent.store.db import Base

config = context.config
target_metadata = Base.metadata


def run_on(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things in place; batch mode rebuilds the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_with_engine(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        await connection.run_sync(run_on)
        await connection.commit()


async def run_with_url(url: str) -> None:
    engine = create_async_engine(url, poolclass=pool.NullPool)
    try:
        await run_with_engine(engine)
    finally:
        await engine.dispose()


def run_offline(url: str) -> None:
    context.configure(url=url, target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


given = config.attributes.get("connection")
if isinstance(given, AsyncEngine):
    asyncio.run(run_with_engine(given))
elif given is not None:
    run_on(given)
elif context.is_offline_mode():
    run_offline(config.get_main_option("sqlalchemy.url"))
else:
    asyncio.run(run_with_url(config.get_main_option("sqlalchemy.url")))
