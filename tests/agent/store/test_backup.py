"""`atelier db backup` and `atelier db restore`: a person's history comes back as it was.

Each test runs on SQLite and, where ATELIER_TEST_POSTGRES_URL is set and the PostgreSQL
client tools are installed, on PostgreSQL (pg_dump / pg_restore).
"""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from agent.store import migrate
from agent.store.db import Message, Role
from agent.store.engine import create_engine, session_factory
from agent.store.memory import Memory
from agent.store.people import create_conversation, find_or_create_user
from agent.types import Place, UserRef
from bot.cli import main

PLACE = Place(channel_id="c1", guild_id="g1", is_direct=False)


@pytest.fixture
def atelier_db(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The `atelier` command's database is `database_url`, migrated as the bot leaves it."""
    if database_url.startswith("postgresql") and shutil.which("pg_dump") is None:
        pytest.skip("pg_dump is not installed (the PostgreSQL client tools)")
    monkeypatch.setenv("ATELIER_DATABASE_URL", database_url)
    monkeypatch.setenv("ATELIER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("ATELIER_CONFIG", str(tmp_path / "atelier.toml"))
    migrate.upgrade(database_url)
    return database_url


def atelier(*args: str) -> int:
    # The db commands run their own event loop (Alembic's), so never on this test's.
    return main(list(args))


async def say(url: str, *texts: str) -> None:
    """Ada says each text in her conversation, through the store the agent writes with."""
    engine = create_engine(url)
    sessions = session_factory(engine)
    memory = Memory(lambda text: len(text.split()))
    async with sessions.begin() as session:
        ada = await find_or_create_user(session, "discord", UserRef("1", "ada"))
        conversation = await create_conversation(session, "discord", ada, PLACE)
        drafts = [memory.draft(Role.USER, text, author_id=ada.id) for text in texts]
        await session.flush()
        assert await memory.append(session, conversation.id, *drafts)
    await engine.dispose()


async def said(url: str) -> list[str]:
    engine = create_engine(url)
    async with session_factory(engine)() as session:
        rows = await session.execute(select(Message.content).order_by(Message.id))
        contents = list(rows.scalars())
    await engine.dispose()
    return contents


async def test_a_restore_brings_back_what_was_backed_up(
    atelier_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    await say(atelier_db, "a heron at dawn", "make it rain")
    backup_file = tmp_path / "atelier.backup"
    assert await asyncio.to_thread(atelier, "db", "backup", str(backup_file)) == 0
    assert f"backed up the database to {backup_file}" in capsys.readouterr().out
    await say(atelier_db, "this was said after the backup")
    assert len(await said(atelier_db)) == 3

    assert await asyncio.to_thread(atelier, "db", "restore", str(backup_file)) == 0

    assert "restored the database" in capsys.readouterr().out
    assert await said(atelier_db) == ["a heron at dawn", "make it rain"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp-backup-")]


async def test_a_backup_is_taken_while_the_bot_writes(atelier_db: str, tmp_path: Path) -> None:
    """The bot keeps its connections open and goes on writing; the backup is whole."""
    engine = create_engine(atelier_db)
    async with engine.connect() as connection:  # the running bot's open connection
        await say(atelier_db, "one", "two")
        backup_file = tmp_path / "live.backup"
        assert await asyncio.to_thread(atelier, "db", "backup", str(backup_file)) == 0
        await say(atelier_db, "three")
        await connection.close()
    await engine.dispose()
    assert await asyncio.to_thread(atelier, "db", "restore", str(backup_file)) == 0
    assert await said(atelier_db) == ["one", "two"]


@pytest.mark.parametrize("content", [b"not a backup at all\n", b""])
async def test_a_file_that_is_no_backup_is_refused_in_one_line(
    atelier_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes
) -> None:
    await say(atelier_db, "keep me")
    garbage = tmp_path / "holiday.jpg"
    garbage.write_bytes(content)
    assert await asyncio.to_thread(atelier, "db", "restore", str(garbage)) == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("atelier: ") and "not an atelier backup" in line
    assert await said(atelier_db) == ["keep me"]


def test_a_sqlite_database_of_something_else_is_refused(
    atelier_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import sqlite3

    other = tmp_path / "other.db"
    with sqlite3.connect(other) as connection:
        connection.execute("CREATE TABLE notes (text TEXT)")
    assert atelier("db", "restore", str(other)) == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert "not an atelier backup" in line


def test_backing_up_where_no_directory_is_one_line(
    atelier_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert atelier("db", "backup", str(tmp_path / "missing" / "atelier.backup")) == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert "no directory" in line and "Traceback" not in line


def test_without_pg_dump_a_postgresql_backup_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ATELIER_DATABASE_URL", "postgresql+asyncpg://atelier@db.example/atelier")
    monkeypatch.setenv("ATELIER_CONFIG", str(tmp_path / "atelier.toml"))
    monkeypatch.setenv("PATH", str(tmp_path))  # no pg_dump on it; nothing is connected to
    assert atelier("db", "backup", str(tmp_path / "atelier.backup")) == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert "pg_dump" in line and "PostgreSQL client tools" in line
    assert not (tmp_path / "atelier.backup").exists()
