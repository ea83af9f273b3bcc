"""The bot process killed with SIGKILL while its job runs on a NATS worker: after a restart the
result that waited in NATS is stored once and its owner told once; a second restart stores and
tells nothing more (issue 18's Show).

Real processes throughout: `atelier chat` with the tiny profile (tests/support/crash.py's
console), and the real worker with the tiny image model, its job held at the start
(tests/support/held_worker.py) so the kill surely lands while the job is on the worker. They
share one data directory (the shared media mode), the real NATS server, and the names of this
test alone.
"""

from __future__ import annotations

import asyncio
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import nats
import pytest

from agent.scaleout.subjects import Names
from tests.support.crash import Console, _environment, consistency
from tests.support.held_worker import RELEASE, STARTED
from tests.support.nats_running import REPO_ROOT

BOT_ID = "bot1"
WAIT_S = 120.0  # a deadline for each condition, never a guess at how long one takes
REQUEST = "/image a red fox"
HELD_ARGS = ("-m", "tests.support.held_worker", "--kinds=image")
TOLD = re.compile(r"^ada, your image \('a red fox'\) finished while atelier was restarting: #(\d+)")


def scaled_environment(data_dir: Path, models_dir: Path, url: str, names: Names) -> dict[str, str]:
    """The console's environment (tests/support/crash.py) with its tool jobs sent to NATS."""
    return {
        **_environment(data_dir, models_dir),
        "ATELIER_JOBS": url,
        "ATELIER_NATS_PREFIX": names.prefix,
        "ATELIER_BOT_ID": BOT_ID,
    }


class ScaledConsole(Console):
    """crash.py's console (its reading, waiting and killing), started with `env`, its stderr
    kept in a file for when a test fails."""

    def __init__(self, data_dir: Path, env: dict[str, str], log: Path) -> None:
        self._lines: list[str] = []
        self._changed = threading.Condition()
        with log.open("a") as stderr:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "bot.cli", "chat", "--user", "ada"],
                cwd=data_dir,
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=stderr,
                text=True,
            )
        threading.Thread(target=self._read, daemon=True).start()


def started_and_left(data_dir: Path, env: dict[str, str], log: Path, *, replies: int) -> list[str]:
    """A restart asked for /help, left (its input closed) once it printed `replies` replies;
    its output lines. One that stops answering is killed and fails the test."""
    console = ScaledConsole(data_dir, env, log)
    console.send("/help")
    try:
        console.wait_for_replies(replies, timeout=WAIT_S)
    except BaseException:
        console.kill()
        raise
    assert console.finish() == 0, console.lines[-5:]
    return console.lines


def wait_until(condition: Callable[[], bool], what: str, alive: subprocess.Popen[str]) -> None:
    """Until `condition` holds; a clear failure past the deadline or if `alive` exits."""
    deadline = time.monotonic() + WAIT_S
    while not condition():
        assert alive.poll() is None, f"the worker exited ({alive.returncode}) before {what}"
        assert time.monotonic() < deadline, f"no {what} within {WAIT_S:g} s"
        time.sleep(0.05)


async def results_waiting(url: str, names: Names) -> int:
    """Results in the results stream nobody has acknowledged yet."""
    client = await nats.connect(url)
    try:
        info = await client.jetstream().stream_info(names.results_stream)
    finally:
        await client.close()
    return info.state.messages


def job_states(data_dir: Path) -> list[tuple[str, bool, bool]]:
    """Each ledger row's state, whether it was handled unclaimed, and whether it was told."""
    with sqlite3.connect(f"file:{data_dir / 'atelier.db'}?mode=ro", uri=True) as db:
        rows = db.execute(
            "SELECT state, unclaimed_at IS NOT NULL, reported_at IS NOT NULL FROM jobs"
        ).fetchall()
    return [(state, bool(unclaimed), bool(told)) for state, unclaimed, told in rows]


def told_lines(lines: list[str]) -> list[str]:
    return [line for line in lines if "finished while atelier was restarting" in line]


@pytest.fixture
def worker(
    tmp_path: Path, models_cache_dir: Path, nats_url: str, nats_names: Names
) -> Iterator[tuple[subprocess.Popen[str], Path]]:
    """The held image worker on this test's names and data directory, and its marks."""
    marks = tmp_path / "marks"
    marks.mkdir()
    env = scaled_environment(tmp_path / "data", models_cache_dir, nats_url, nats_names)
    (tmp_path / "data").mkdir()
    with (tmp_path / "worker.log").open("w") as stderr:
        process = subprocess.Popen(
            [sys.executable, *HELD_ARGS, f"--marks={marks}"],
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            text=True,
        )
    try:
        yield process, marks
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_a_bot_killed_while_its_job_runs_on_a_worker_delivers_it_once_after_a_restart(
    tmp_path: Path,
    models_cache_dir: Path,
    nats_url: str,
    nats_names: Names,
    worker: tuple[subprocess.Popen[str], Path],
) -> None:
    process, marks = worker
    data_dir = tmp_path / "data"
    env = scaled_environment(data_dir, models_cache_dir, nats_url, nats_names)
    log = tmp_path / "bot.log"

    asked = ScaledConsole(data_dir, env, log)
    try:
        asked.send(REQUEST)
        wait_until(lambda: any(marks.glob(f"{STARTED}-*")), "job on the worker", process)
    finally:
        asked.kill()  # SIGKILL while the worker holds its job: the bot never sees the result
    assert asked.replies() == 0, asked.lines
    assert job_states(data_dir) == [("running", False, False)]

    (marks / RELEASE).touch()  # the worker makes the piece; its result waits for bot1
    wait_until(lambda: asyncio.run(results_waiting(nats_url, nats_names)) == 1, "result", process)

    restarted = started_and_left(data_dir, env, log, replies=2)  # /help's, the late piece's
    [told] = told_lines(restarted)
    match = TOLD.match(told)
    assert match, told
    store = consistency(data_dir)
    assert (store.pieces, store.pieces_without_file, store.files_without_piece) == (1, 0, 0)
    assert store.clean, store  # the person's words stored with the line presenting it
    with sqlite3.connect(f"file:{data_dir / 'atelier.db'}?mode=ro", uri=True) as db:
        [(piece_id, path)] = db.execute("SELECT id, media_path FROM artifacts").fetchall()
    assert int(match.group(1)) == piece_id and (data_dir / "media" / path).is_file()
    assert job_states(data_dir) == [("done", True, True)]
    assert asyncio.run(results_waiting(nats_url, nats_names)) == 0

    again = started_and_left(data_dir, env, log, replies=1)
    assert told_lines(again) == [], again
    assert consistency(data_dir) == store
    assert job_states(data_dir) == [("done", True, True)]
