"""Fixtures for the NATS leg: the server's URL, and names of their own for each test.

The leg runs when ATELIER_TEST_NATS_URL is set (CI sets it to nats://127.0.0.1:4222) and is
skipped otherwise, like the PostgreSQL leg. Each test gets a `Names` with a unique prefix, so
its streams, consumers and buckets are its own; they are deleted afterwards. A server that is
set but not answering fails the test: CI must run this leg, not skip it.

A module that shares one slow thing (a worker subprocess) across its tests takes
`module_nats_names`, or calls `temporary_names` itself.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress

import nats
import pytest
from nats.js import JetStreamManager
from nats.js.errors import NotFoundError

from agent.scaleout.subjects import Names

NATS_URL_ENV = "ATELIER_TEST_NATS_URL"


def configured_nats_url() -> str | None:
    """The test server's URL, or None when this leg is off."""
    return os.environ.get(NATS_URL_ENV) or None


@pytest.fixture(scope="session")
def nats_url() -> str:
    url = configured_nats_url()
    if url is None:
        pytest.skip(f"{NATS_URL_ENV} not set")
    return url


@contextmanager
def temporary_names(url: str) -> Iterator[Names]:
    """A `Names` with a prefix nobody else uses; every stream (KV buckets and the object
    store are streams too) whose name carries it is deleted afterwards."""
    names = Names(prefix=f"t{uuid.uuid4().hex[:12]}")
    asyncio.run(_check_reachable(url))
    try:
        yield names
    finally:
        asyncio.run(delete_everything_of(url, names))


@pytest.fixture
def nats_names(nats_url: str) -> Iterator[Names]:
    """This test's names, its streams and buckets deleted after it."""
    with temporary_names(nats_url) as names:
        yield names


@pytest.fixture(scope="module")
def module_nats_names(nats_url: str) -> Iterator[Names]:
    """One module's names, for tests that share a worker subprocess."""
    with temporary_names(nats_url) as names:
        yield names


async def _check_reachable(url: str) -> None:
    try:
        client = await nats.connect(url, connect_timeout=2, max_reconnect_attempts=0)
    except Exception as exc:  # noqa: BLE001 - any failure to connect is the same news
        pytest.fail(f"{NATS_URL_ENV}={url} is set but NATS is not answering: {exc!r}")
    await client.close()


async def until_in_stream(url: str, stream: str) -> None:
    """Wait, a moment at a time, until the stream holds a message (a job published, a key
    written to a KV bucket, whose stream is KV_<bucket>)."""
    client = await nats.connect(url, connect_timeout=2, max_reconnect_attempts=0)
    try:
        while not (await client.jsm().stream_info(stream)).state.messages:
            await asyncio.sleep(0.02)
    finally:
        await client.close()


async def delete_everything_of(url: str, names: Names) -> None:
    """Delete every stream of `names`: its jobs and results, KV_<bucket>, OBJ_<bucket>, and
    any other whose name carries its prefix (a bucket another module adds)."""
    client = await nats.connect(url, connect_timeout=2, max_reconnect_attempts=0)
    try:
        manager = client.jsm()
        for name in await _streams_of(manager, names.prefix.lower()):
            with suppress(NotFoundError):
                await manager.delete_stream(name)
    finally:
        await client.close()


async def _streams_of(manager: JetStreamManager, mark: str) -> list[str]:
    found: list[str] = []
    offset = 0
    while page := await manager.streams_info(offset):  # the server lists a page at a time
        offset += len(page)
        found += [info.config.name for info in page if mark in (info.config.name or "").lower()]
    return [name for name in found if name]
