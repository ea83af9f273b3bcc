"""Faults in the stores a turn writes to, injected for real: a PostgreSQL connection dropped
mid-turn (pg_terminate_backend from another connection), SQLite locked by another writer
past the busy timeout, the media store not writable or out of space.

Each ends with the person answered or told why in one line, the operator told in one log line
(no traceback), and nothing half-stored (tests/support/half_stored.py).
"""

from __future__ import annotations

import errno
import logging
import os
import sqlite3
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

import agent.scope
import agent.store.media
import agent.writes
from agent.store.db import Base
from agent.store.engine import create_engine
from agent.store.media import MEDIA_UNWRITABLE
from agent.store.memory import Memory
from agent.store.people import find_or_create_user
from agent.store.retry import MAYBE_KEPT, NOT_ANSWERING
from agent.store.sweep import sweep_media
from agent.types import Attachment
from tests.conftest import POSTGRES_URL
from tests.support.half_stored import half_stored
from tests.support.pg import temporary_database
from tests.support.pg_faults import ConnectionDropper, DropAtCommit, asyncpg_dsn
from tests.support.studio_tools import PGM, PGM_HEADER, SKETCH, TRACE
from tests.support.workshop import MakeWorkshop, Workshop
from tools.models.text import LoadedCausalLM

Sessions = async_sessionmaker[AsyncSession]
GRAYMAP = Attachment("door.pgm", PGM, PGM_HEADER + bytes(range(256)))


@pytest.fixture
def pg_url() -> Iterator[str]:
    if POSTGRES_URL is None:
        pytest.skip("ATELIER_TEST_POSTGRES_URL not set")
    with temporary_database(POSTGRES_URL) as url:
        yield url


@pytest.fixture
async def pg(pg_url: str, tmp_path: Path, tiny_chat: LoadedCausalLM) -> AsyncIterator[Workshop]:
    """A workshop on PostgreSQL whose sessions can have a commit dropped (DropAtCommit)."""
    engine = create_engine(pg_url)
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    sessions = async_sessionmaker(engine, class_=DropAtCommit, expire_on_commit=False)
    workshop = Workshop(sessions, tmp_path, tiny_chat, [SKETCH, TRACE])
    yield workshop
    workshop.jobs.shutdown()
    await engine.dispose()


def drop_while_storing(
    monkeypatch: pytest.MonkeyPatch, pg_url: str, drops: dict[str, int]
) -> ConnectionDropper:
    """Each piece's store transaction loses its connection `drops[prompt]` times."""
    dropper = ConnectionDropper(asyncpg_dsn(pg_url), drops)
    dropping = dropper.before(agent.writes.add_artifact, key=lambda **piece: piece["prompt"])
    monkeypatch.setattr(agent.writes, "add_artifact", dropping)
    return dropper


def operator_lines(caplog: pytest.LogCaptureFixture, logger: str) -> list[str]:
    records = [r for r in caplog.records if r.name == logger and r.levelno >= logging.WARNING]
    assert all(r.exc_info is None for r in records), "a traceback reached the log"
    return [r.getMessage() for r in records]


async def test_a_connection_dropped_while_storing_is_retried_and_the_piece_kept(
    pg: Workshop, pg_url: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    dropper = drop_while_storing(monkeypatch, pg_url, {"a red door": 1})

    reply = await pg.command("/sketch a red door")

    assert dropper.dropped == {"a red door": 1}
    assert reply.stored and [a.number for a in reply.artifacts] == [1]
    [piece] = await pg.artifacts()
    assert piece.prompt == "a red door"
    assert [(m.role, m.artifact_id) for m in await pg.messages()] == [
        ("user", None),
        ("assistant", piece.id),
    ]
    assert await half_stored(pg.sessions, pg.media) == []
    [line] = operator_lines(caplog, "agent.store.retry")
    assert line.startswith("database connection lost while storing a turn (")
    assert line.endswith("the retry went through")


async def test_a_database_still_gone_on_the_retry_is_one_line_and_nothing_is_kept(
    pg: Workshop, pg_url: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    drop_while_storing(monkeypatch, pg_url, {"a red door": 2})

    reply = await pg.command("/sketch a red door")
    after = await pg.command("/sketch a blue door")  # the database is back

    assert (reply.text, reply.stored, reply.artifacts) == (NOT_ANSWERING, False, ())
    assert [a.prompt for a in await pg.artifacts()] == ["a blue door"]
    assert [m.content for m in await pg.messages()][0] == "/sketch a blue door"
    assert after.stored
    assert await half_stored(pg.sessions, pg.media) == []  # the red door's file was removed
    [told] = operator_lines(caplog, "agent.store.retry")  # one line for the one fault
    assert "not answering while storing a turn, even after a retry" in told
    assert "check that the database server is up" in told
    assert "red door" not in told  # what people wrote stays out of the operator's log


async def test_a_connection_dropped_while_reading_the_scope_is_retried_then_refused(
    pg: Workshop, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    dropper = ConnectionDropper(asyncpg_dsn(pg_url), {"ada": 1, "bob": 2})
    dropping = dropper.before(find_or_create_user, key=lambda platform, user: user.external_id)
    monkeypatch.setattr(agent.scope, "find_or_create_user", dropping)

    ada = await pg.command("/trace a door", user="ada", attachments=[GRAYMAP])
    bob = await pg.command("/trace a door", user="bob", attachments=[GRAYMAP])

    assert dropper.dropped == {"ada": 1, "bob": 2}
    assert ada.stored and len(ada.artifacts) == 1  # her upload's inversion
    assert (bob.text, bob.stored) == (NOT_ANSWERING, False)
    creators = {a.creator_id for a in await pg.artifacts()}
    assert len(creators) == 1  # only Ada's upload and piece
    assert await half_stored(pg.sessions, pg.media) == []


async def test_a_commit_cut_off_is_not_retried_and_its_files_wait_for_the_sweep(
    pg: Workshop, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whether a commit whose connection died landed cannot be known: retrying could store
    the turn twice, and removing the files could leave a stored piece without its file."""
    dsn = asyncpg_dsn(pg_url)

    async def arm_then_add(session: AsyncSession, **piece: object) -> object:
        session.info["drop_at_commit"] = dsn
        return await add_artifact(session, **piece)

    add_artifact = agent.writes.add_artifact
    monkeypatch.setattr(agent.writes, "add_artifact", arm_then_add)
    reply = await pg.command("/sketch a red door")
    monkeypatch.undo()

    assert (reply.text, reply.stored) == (MAYBE_KEPT, False)
    assert await pg.artifacts() == []  # the commit never reached the server
    assert len(pg.media_files()) == 1  # kept, in case it had
    swept = await sweep_media(pg.sessions, pg.media)  # as the next start does
    assert swept.orphans == 1
    assert await half_stored(pg.sessions, pg.media) == []


async def test_sqlite_locked_past_the_busy_timeout_is_one_line_and_nothing_is_kept(
    tmp_path: Path, tiny_chat: LoadedCausalLM, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "atelier.db"
    engine = create_engine(f"sqlite+aiosqlite:///{path}", sqlite_busy_s=0.05)
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    workshop = Workshop(sessions, tmp_path, tiny_chat, [SKETCH])
    try:
        await workshop.command("/sketch a red door")
        other_writer = sqlite3.connect(path)  # a second process writing the same database
        other_writer.execute("BEGIN IMMEDIATE")
        locked = await workshop.command("/sketch a blue door")
        other_writer.rollback()
        other_writer.close()
        after = await workshop.command("/sketch a green door")
        prompts = [a.prompt for a in await workshop.artifacts()]
        consistent = await half_stored(sessions, workshop.media)
    finally:
        workshop.jobs.shutdown()
        await engine.dispose()

    assert (locked.text, locked.stored) == (NOT_ANSWERING, False)
    assert after.stored
    assert prompts == ["a red door", "a green door"]
    assert consistent == []
    [told] = operator_lines(caplog, "agent.store.retry")
    assert "locked past its busy timeout" in told


def media_root_is_a_file(workshop: Workshop) -> None:
    """A media directory that cannot be written: a file stands where it should be (chmod
    would not stop a test run as root)."""
    workshop.media.root.parent.mkdir(parents=True, exist_ok=True)
    workshop.media.root.write_text("not a directory")


async def test_an_unwritable_media_store_is_one_line_and_the_operator_told_where(
    make_studio: MakeWorkshop, caplog: pytest.LogCaptureFixture
) -> None:
    studio = make_studio([SKETCH, TRACE])
    media_root_is_a_file(studio)

    made = await studio.command("/sketch a red door")
    sent = await studio.command("/trace a door", attachments=[GRAYMAP])

    assert (made.text, made.stored) == (MEDIA_UNWRITABLE, False)
    assert (sent.text, sent.stored) == (MEDIA_UNWRITABLE, False)
    assert await studio.artifacts() == [] and await studio.messages() == []
    told = operator_lines(caplog, "agent.store.media")
    assert len(told) == 2
    assert f"cannot write to {studio.media.root} (Not a directory)" in told[0]
    assert "make it writable by the user running atelier" in told[0]


async def test_a_full_disk_leaves_no_temporary_file_and_nothing_stored(
    make_studio: MakeWorkshop, monkeypatch: pytest.MonkeyPatch
) -> None:
    studio = make_studio([SKETCH])
    await studio.command("/sketch a red door")

    def disk_full(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(agent.store.media.os, "fsync", disk_full)
    full = await studio.command("/sketch a blue door")
    monkeypatch.undo()
    after = await studio.command("/sketch a green door")

    assert (full.text, full.stored) == (MEDIA_UNWRITABLE, False)
    assert after.stored
    assert [a.prompt for a in await studio.artifacts()] == ["a red door", "a green door"]
    assert await half_stored(studio.sessions, studio.media) == []  # no .tmp- file left


async def test_recording_which_message_shows_a_piece_survives_a_dropped_connection(
    pg: Workshop, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After the answer is sent: retried once, and still gone it costs only the link from
    that message to its piece, never the rest of the delivery."""
    await pg.command("/sketch a red door")
    await pg.command("/sketch a blue door")
    dropper = ConnectionDropper(asyncpg_dsn(pg_url), {"m1": 1, "m2": 2})
    mark_shown = Memory.mark_shown

    async def mark(session: AsyncSession, memory: Memory, *shown: Any) -> int:
        return await mark_shown(memory, session, *shown)

    dropping = dropper.before(mark, key=lambda memory, numbers, message: message)
    monkeypatch.setattr(
        Memory, "mark_shown", lambda self, session, *shown: dropping(session, self, *shown)
    )

    await pg.agent.record_delivery("m1", [1])
    await pg.agent.record_delivery("m2", [2])

    shown = {m.artifact_id: m.platform_message_id for m in await pg.messages() if m.artifact_id}
    assert shown == {1: "m1", 2: None}
    assert dropper.dropped == {"m1": 1, "m2": 2}
