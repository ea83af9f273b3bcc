"""CI's NATS check (.ci/nats_ready.sh, run by .ci/run before `make test`): the NATS leg must
run, not skip, so a server that is down or lacks JetStream stops CI with one line saying so."""

from __future__ import annotations

import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.nats import configured_nats_url

CHECK = Path(__file__).resolve().parents[1] / ".ci" / "nats_ready.sh"


def _check(url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(CHECK), url], capture_output=True, text=True, timeout=30)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def nats_without_jetstream() -> Iterator[int]:
    """A port where something greets like a NATS server started without -js."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(10)

    def greet() -> None:
        connection, _ = listener.accept()
        with connection:
            connection.sendall(b'INFO {"server_id":"fake","version":"2.9.10","headers":true}\r\n')

    greeter = threading.Thread(target=greet, daemon=True)
    greeter.start()
    try:
        yield listener.getsockname()[1]
    finally:
        greeter.join(timeout=10)
        listener.close()


def test_nothing_listening_stops_ci_in_one_line() -> None:
    port = _free_port()

    done = _check(f"nats://127.0.0.1:{port}")

    assert done.returncode == 1
    [line] = done.stderr.strip().splitlines()
    assert line == (
        f"ci: NATS is not answering on 127.0.0.1:{port}; the NATS tests cannot run "
        "(start nats-server -js)"
    )


def test_a_server_without_jetstream_stops_ci_naming_the_flag(nats_without_jetstream: int) -> None:
    done = _check(f"nats://127.0.0.1:{nats_without_jetstream}")

    assert done.returncode == 1
    [line] = done.stderr.strip().splitlines()
    assert "without JetStream" in line and "nats-server -js" in line


def test_the_configured_server_passes_silently() -> None:
    url = configured_nats_url()
    if url is None:
        pytest.skip("ATELIER_TEST_NATS_URL not set")

    done = _check(url)

    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
