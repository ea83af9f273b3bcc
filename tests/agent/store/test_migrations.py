"""pytest-alembic's standard checks, on SQLite and on PostgreSQL; plus the CLI's db commands."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic.config import Config
from pytest_alembic import MigrationContext
from pytest_alembic.tests import (  # noqa: F401 - collected as tests
    test_model_definitions_match_ddl,
    test_single_head_revision,
    test_up_down_consistency,
    test_upgrade,
)
from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from agent.store.migrate import alembic_config as make_alembic_config


@pytest.fixture
def alembic_config(database_url: str) -> Config:
    return make_alembic_config(database_url)


@pytest.fixture
def alembic_engine(database_url: str) -> AsyncEngine:
    # pytest-alembic runs each step in its own asyncio.run(): pooled asyncpg connections
    # would be tied to a loop that is gone, so every step connects afresh.
    return create_async_engine(database_url, poolclass=NullPool)


def _tables(url: str) -> set[str]:
    import asyncio

    async def read() -> set[str]:
        engine = create_async_engine(url)
        async with engine.connect() as connection:
            names = await connection.run_sync(lambda c: set(inspect(c).get_table_names()))
        await engine.dispose()
        return names

    return asyncio.run(read())


def _atelier(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args], env=env, capture_output=True, text=True
    )


def test_db_commands_upgrade_and_downgrade(database_url: str, base_env: dict[str, str]) -> None:
    env = {**base_env, "ATELIER_DATABASE_URL": database_url}
    assert _atelier("db", "upgrade", env=env).returncode == 0
    assert {"users", "conversations", "messages", "artifacts"} <= _tables(database_url)
    assert _atelier("db", "downgrade", "base", env=env).returncode == 0
    assert _tables(database_url) <= {"alembic_version"}


def test_unreachable_database_stops_with_one_line(base_env: dict[str, str]) -> None:
    url = "postgresql+asyncpg://someone:s3cret@127.0.0.1:1/nowhere"
    result = _atelier("db", "upgrade", env={**base_env, "ATELIER_DATABASE_URL": url})
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "127.0.0.1:1/nowhere" in lines[0] and "s3cret" not in lines[0]


def test_unwritable_sqlite_path_stops_with_one_line(
    tmp_path: Path, base_env: dict[str, str]
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    url = f"sqlite+aiosqlite:///{blocker}/sub/atelier.db"
    result = _atelier("db", "upgrade", env={**base_env, "ATELIER_DATABASE_URL": url})
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_duplicate_conversations_of_one_person_and_place_are_merged(
    alembic_runner: MigrationContext, database_url: str
) -> None:
    alembic_runner.migrate_up_to("0005")
    when = datetime(2026, 12, 1, 10, tzinfo=UTC)
    alembic_runner.insert_into(
        "users",
        {
            "id": 1,
            "platform": "t",
            "external_id": "ada",
            "display_name": "Ada",
            "preferences": {},
            "created_at": when,
        },
    )
    for conversation in (1, 2):  # two first messages at once made two conversations
        alembic_runner.insert_into(
            "conversations",
            {
                "id": conversation,
                "kind": "channel",
                "platform": "t",
                "channel_id": "c1",
                "owner_id": 1,
                "created_at": when,
                "updated_at": when,
            },
        )
    for message, conversation in ((1, 1), (2, 2), (3, 1)):
        alembic_runner.insert_into(
            "messages",
            {
                "id": message,
                "conversation_id": conversation,
                "role": "user",
                "content": f"m{message}",
                "token_count": 1,
                "created_at": when,
            },
        )
    alembic_runner.migrate_up_one()

    async def read() -> list[tuple[int, int]]:
        engine = create_async_engine(database_url)
        async with engine.connect() as connection:
            rows = await connection.execute(
                text("SELECT id, conversation_id FROM messages ORDER BY id")
            )
            found = [(row[0], row[1]) for row in rows]
            count = (await connection.execute(text("SELECT count(*) FROM conversations"))).scalar()
        await engine.dispose()
        assert count == 1
        return found

    assert asyncio.run(read()) == [(1, 1), (2, 1), (3, 1)]  # the whole history, in order
