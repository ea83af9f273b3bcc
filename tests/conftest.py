"""Shared fixtures: offline models, and databases on SQLite and (when configured) PostgreSQL.

Every test that takes `database_url` runs once per backend. PostgreSQL runs when
ATELIER_TEST_POSTGRES_URL is set (CI sets it); each test gets a database of its own, created
and dropped around it, so runs never see each other's rows.
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from collections.abc import AsyncIterator, Iterator  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker  # noqa: E402

from agent.store.db import Base  # noqa: E402
from agent.store.engine import create_engine, session_factory  # noqa: E402
from tests.support.pg import temporary_database  # noqa: E402

pytest_plugins = ["tests.support.fixtures_models", "tests.support.workshop", "tests.support.nats"]

POSTGRES_URL = os.environ.get("ATELIER_TEST_POSTGRES_URL")
BACKENDS = [
    "sqlite",
    pytest.param(
        "postgresql",
        marks=pytest.mark.skipif(not POSTGRES_URL, reason="ATELIER_TEST_POSTGRES_URL not set"),
    ),
]


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'atelier.db'}"
        return
    assert POSTGRES_URL is not None
    with temporary_database(POSTGRES_URL) as url:
        yield url


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """A session factory over a fresh schema (created from the models; migrations have
    their own tests that prove the two agree)."""
    engine = create_engine(database_url)
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    yield session_factory(engine)
    await engine.dispose()


@pytest.fixture
def base_env(tmp_path: Path) -> dict[str, str]:
    """Environment for an `atelier` subprocess: offline, its own data dir, no stray settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ATELIER_")}
    env.update(
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        ATELIER_DATA_DIR=str(tmp_path / "data"),
        ATELIER_CONFIG=str(tmp_path / "atelier.toml"),
    )
    return env
