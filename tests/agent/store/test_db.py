"""Engine settings that protect stored data."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agent.store.db import Base, User
from agent.store.engine import create_engine
from agent.store.people import _insert_user, find_or_create_user, find_user
from agent.types import UserRef


async def test_a_connection_returned_mid_write_keeps_nothing_and_locks_nothing(
    tmp_path: Path,
) -> None:
    # The SQLite engine skips the pool's blanket rollback; this is the case its own reset
    # must still catch: a write the ORM never knew about, left open on a pooled connection.
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'atelier.db'}")
    try:
        async with engine.begin() as connection:
            await connection.run_sync(Base.metadata.create_all)
        async with engine.connect() as connection:
            raw = await connection.get_raw_connection()
            await raw.driver_connection.execute(
                "INSERT INTO users (platform, external_id, display_name, preferences, created_at)"
                " VALUES ('test', 'ada', 'Ada', '{}', '2026-01-01 00:00:00')"
            )
        async with engine.begin() as connection:
            users = (await connection.execute(select(func.count(User.id)))).scalar_one()
            await connection.execute(
                User.__table__.insert().values(
                    platform="test", external_id="bob", display_name="Bob"
                )
            )
        assert users == 0
    finally:
        await engine.dispose()


async def test_a_new_user_writing_twice_at_once_gets_one_row(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    # Two first messages from the same person race: both looked, found nobody, and insert.
    ada = UserRef("ada", "Ada")
    async with sessions() as first, sessions() as second:
        assert await find_user(first, "test", "ada") is None
        assert await find_user(second, "test", "ada") is None
        winner = await find_or_create_user(first, "test", ada)
        await first.commit()
        loser = await _insert_user(second, "test", ada)
        await second.commit()
    assert loser.id == winner.id
    async with sessions() as session:
        assert (await session.execute(select(func.count(User.id)))).scalar_one() == 1
