"""`atelier status` against the real NATS: queue depth per kind and priority, jobs in flight,
the live workers from their beats; NATS down or JetStream off is one line and exit 3; with
ATELIER_JOBS=local there is nothing to show. Reading the status never creates anything."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import nats
import pytest

from agent.scaleout.envelope import WorkerBeat
from agent.scaleout.setup import NatsUnreachable, Transport, connect
from agent.scaleout.status import JetStreamOff, QueueLine, read_status
from agent.scaleout.streams import ensure_streams, ensure_worker_consumer, workers_bucket
from agent.scaleout.subjects import Names
from bot.cli import main

GPU_WORKER = WorkerBeat(
    worker_id="gpu0-4711",
    kinds=("image", "music"),
    device="cuda:0 (NVIDIA H100 80GB HBM3)",
    host="render-1",
    pid=4711,
    in_flight=1,
    seen_at=0.0,  # set when it is written
)


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`atelier` run in this process with no stray settings."""
    for name in [n for n in os.environ if n.startswith("ATELIER_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("ATELIER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("ATELIER_CONFIG", str(tmp_path / "atelier.toml"))


async def _busy_queue(transport: Transport) -> None:
    """Three image jobs for now, one of them taken by a worker and not yet acknowledged;
    two music jobs for later that no worker has ever asked for; one worker's beat, and an
    entry in the workers bucket that is not one."""
    client = await connect(transport, keep_trying=False)
    try:
        js = client.jetstream()
        names = transport.names
        await ensure_streams(js, transport)
        durable = await ensure_worker_consumer(js, transport, "image", "now")
        for job_id, kind, priority in [
            (1, "image", "now"),
            (2, "image", "now"),
            (3, "image", "now"),
            (4, "music", "later"),
            (5, "music", "later"),
        ]:
            await js.publish(
                names.job(kind, priority),
                b"{}",
                stream=names.jobs_stream,
                headers={"Nats-Msg-Id": names.message_id(job_id)},
            )
        taking = await js.pull_subscribe_bind(durable, stream=names.jobs_stream)
        [taken] = await taking.fetch(1, timeout=5)
        assert taken.metadata.num_delivered == 1  # held, never acknowledged
        beats = await workers_bucket(js, transport)
        beat = GPU_WORKER.model_copy(update={"seen_at": time.time()})
        await beats.put(beat.worker_id, beat.model_dump_json().encode())
        await beats.put("not-a-worker", b"hello")
    finally:
        await client.close()


async def _stream_names(url: str, names: Names) -> list[str]:
    client = await nats.connect(url, connect_timeout=2, max_reconnect_attempts=0)
    try:
        infos = await client.jsm().streams_info()
        return [info.config.name or "" for info in infos if names.prefix in info.config.name]
    finally:
        await client.close()


def _line(lines: tuple[QueueLine, ...], kind: str, priority: str) -> QueueLine:
    [line] = [line for line in lines if (line.kind, line.priority) == (kind, priority)]
    return line


def test_status_counts_each_kinds_queue_and_lists_the_live_workers(
    nats_url: str,
    nats_names: Names,
) -> None:
    transport = Transport(url=nats_url, names=nats_names, bot_id="status-test")
    asyncio.run(_busy_queue(transport))

    status = asyncio.run(read_status(transport))

    assert status.has_queue
    assert _line(status.lines, "image", "now") == QueueLine("image", "now", 2, 1, served=True)
    # Nobody has served music yet: what waits is counted from the stream itself.
    assert _line(status.lines, "music", "later") == QueueLine("music", "later", 2, 0, served=False)
    assert _line(status.lines, "text", "now").queued == 0
    [worker] = status.workers
    assert (worker.worker_id, worker.kinds, worker.device) == (
        "gpu0-4711",
        ("image", "music"),
        "cuda:0 (NVIDIA H100 80GB HBM3)",
    )
    assert status.unreadable_beats == 1


def test_atelier_status_prints_the_queue_and_workers_as_tables(
    nats_url: str,
    nats_names: Names,
    cli_env: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    transport = Transport(url=nats_url, names=nats_names, bot_id="status-test")
    asyncio.run(_busy_queue(transport))
    monkeypatch.setenv("ATELIER_JOBS", nats_url)
    monkeypatch.setenv("ATELIER_NATS_PREFIX", nats_names.prefix)

    assert main(["status"]) == 0

    rows = [line.split() for line in capsys.readouterr().out.splitlines()]
    assert ["kind", "priority", "queued", "in", "flight", "workers"] in rows
    assert ["image", "now", "2", "1", "1"] in rows  # one worker serves images
    assert ["music", "later", "2", "0", "1"] in rows
    assert ["critique", "now", "0", "0", "0"] in rows  # and none serves critiques
    [worker] = [row for row in rows if row and row[0] == "gpu0-4711"]
    assert worker[1:7] == ["image,music", "cuda:0", "(NVIDIA", "H100", "80GB", "HBM3)"]
    assert worker[7:10] == ["render-1", "4711", "1"]
    assert ["4", "queued,", "1", "in", "flight,", "1", "workers"] in rows


def test_status_of_a_prefix_nobody_started_shows_an_empty_queue_and_creates_nothing(
    nats_url: str,
    nats_names: Names,
) -> None:
    transport = Transport(url=nats_url, names=nats_names, bot_id="status-test")

    status = asyncio.run(read_status(transport))

    assert not status.has_queue
    assert all(line.queued == line.in_flight == 0 for line in status.lines)
    assert status.workers == ()
    assert asyncio.run(_stream_names(nats_url, nats_names)) == []


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_status_with_nats_down_is_one_line_and_exit_3(
    cli_env: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    port = _free_port()  # nothing listens there
    monkeypatch.setenv("ATELIER_JOBS", f"nats://127.0.0.1:{port}")

    assert main(["status"]) == 3

    captured = capsys.readouterr()
    assert captured.out == ""
    [line] = captured.err.strip().splitlines()
    assert line.startswith(f"atelier: NATS at nats://127.0.0.1:{port} is not answering")
    assert "ATELIER_JOBS" in line


def test_status_with_local_jobs_says_there_is_nothing_to_show(
    cli_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["status"]) == 0

    [line] = capsys.readouterr().out.strip().splitlines()
    assert "ATELIER_JOBS is local" in line and "bot process" in line


@pytest.fixture
def nats_without_jetstream() -> Iterator[str]:
    """A NATS server of its own, started without -js (an operator's easy mistake)."""
    server = shutil.which("nats-server")
    if server is None:
        pytest.skip("nats-server is not installed here")
    port = _free_port()
    process = subprocess.Popen(
        [server, "-a", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_listening(port)
        yield f"nats://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


def _wait_listening(port: int) -> None:
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def test_status_on_a_server_without_jetstream_names_the_flag(nats_without_jetstream: str) -> None:
    transport = Transport(url=nats_without_jetstream, names=Names(prefix="nojs"), bot_id="t")

    with pytest.raises(JetStreamOff) as raised:
        asyncio.run(read_status(transport))

    assert raised.value.exit_code == 3
    assert "nats-server -js" in str(raised.value)
    assert not isinstance(raised.value, NatsUnreachable)
