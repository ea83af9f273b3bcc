"""Revision 0010 (the focus /undo stores): up and down on SQLite and PostgreSQL, keeping each
conversation and the one-conversation-per-place index that a copied SQLite table would lose."""

from __future__ import annotations

import asyncio

from pytest_alembic import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.agent.store.test_migrations import alembic_config, alembic_engine  # noqa: F401

PLACE_INDEX = "uq_conversations_owner_place"
# The inspector leaves out SQLite's expression indexes, so the catalogues are read directly.
INDEXES = {
    "sqlite": "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'conversations'",
    "postgresql": "SELECT indexname FROM pg_indexes WHERE tablename = 'conversations'",
}


def _shape(url: str) -> tuple[set[str], set[str]]:
    """The conversations table's columns and index names."""

    async def read() -> tuple[set[str], set[str]]:
        engine = create_async_engine(url)
        async with engine.connect() as connection:
            columns = await connection.run_sync(
                lambda c: {column["name"] for column in inspect(c).get_columns("conversations")}
            )
            query = text(INDEXES[engine.dialect.name])
            indexes = set((await connection.execute(query)).scalars())
        await engine.dispose()
        return columns, indexes

    return asyncio.run(read())


def test_focus_column_comes_and_goes_and_the_place_index_stays(
    alembic_runner: MigrationContext, database_url: str
) -> None:
    alembic_runner.migrate_up_to("0009")
    before, indexes = _shape(database_url)
    assert "focus_artifact_id" not in before and PLACE_INDEX in indexes
    alembic_runner.migrate_up_one()
    columns, indexes = _shape(database_url)
    assert columns == before | {"focus_artifact_id"} and PLACE_INDEX in indexes
    alembic_runner.migrate_down_one()
    columns, indexes = _shape(database_url)
    assert columns == before and PLACE_INDEX in indexes
