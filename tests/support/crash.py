"""kill -9 in the middle of turns, then a restart: what the store looks like afterwards.

One cycle starts the real `atelier chat` in a child process (the tiny profile, piped), waits
until it answers, streams image and music commands (and now and then `/forget yes`) and kills
it with SIGKILL at a random moment while they run. The next cycle's start is the restart: its
start-up sweep and job ledger see what the kill left. After the last cycle one more start
(with nothing to do) cleans up, and `consistency` reads the database and the media directory
as they are on disk.

Shared by tests/agent/test_crash.py (a few kills in `make test`) and bench/crash.py (20).
"""

from __future__ import annotations

import os
import random
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from agent.store.media import TEMPORARY_PREFIX

REQUESTS = ("/image a red fox in the snow", "/music a slow waltz for strings")
READY_TIMEOUT_S = 120.0
STREAMED = 6  # requests sent to each run before its kill
KILL_WITHIN_S = 0.8  # after the last answer seen: about one tiny turn
FORGET_SHARE = 0.1
INTERRUPTED = "was interrupted when atelier stopped"  # agent/ledger/interrupted.py


@dataclass(frozen=True)
class Consistency:
    """What the store holds after a restart; every count but the first two should be 0."""

    pieces: int
    files: int
    pieces_without_file: int  # a piece whose media (or a part of it) is missing
    files_without_piece: int  # a file no piece points at
    temporary_files: int  # a half-written file
    unanswered: int  # a person's message stored with no answer after it
    jobs_running: int  # in the ledger as running: a tool the kill stopped, until a restart
    untold: int  # interrupted jobs whose owner was not told yet

    @property
    def clean(self) -> bool:
        return not (
            self.pieces_without_file
            or self.files_without_piece
            or self.temporary_files
            or self.unanswered
            or self.untold
        )


@dataclass
class Cycle:
    """One run killed mid-stream: the store it started with, what it was asked and what it
    answered before the kill."""

    sent: int
    answered: int
    killed_after_s: float
    at_start: Consistency | None  # the store when it started: after the previous kill
    left_running: int  # jobs the kill stopped mid-run: the next start tells their owners
    output: list[str] = field(default_factory=list)


class Console:
    """The real console in a child process, read line by line in a thread."""

    def __init__(self, data_dir: Path, models_dir: Path) -> None:
        self._lines: list[str] = []
        self._changed = threading.Condition()
        data_dir.mkdir(parents=True, exist_ok=True)
        self._process = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "chat", "--user", "ada"],
            cwd=data_dir,  # no atelier.toml there: the environment alone
            env=_environment(data_dir, models_dir),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        threading.Thread(target=self._read, daemon=True).start()

    @property
    def lines(self) -> list[str]:
        with self._changed:
            return list(self._lines)

    def send(self, line: str) -> None:
        assert self._process.stdin is not None
        self._process.stdin.write(line + "\n")
        self._process.stdin.flush()

    def replies(self) -> int:
        """Replies printed so far: piped mode ends each with one blank line."""
        return sum(1 for line in self.lines if not line.strip())

    def wait_for_replies(self, count: int, timeout: float = READY_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout
        with self._changed:
            while sum(1 for line in self._lines if not line.strip()) < count:
                left = deadline - time.monotonic()
                if left <= 0 or self._process.poll() is not None:
                    raise RuntimeError(f"the console stopped answering: {self._lines[-5:]}")
                self._changed.wait(min(left, 0.5))

    def kill(self) -> None:
        self._process.kill()  # SIGKILL: no handler, no cleanup, as a power cut to the process
        self._process.wait()

    def finish(self) -> int:
        """Close stdin and wait for the console to end by itself; its exit code."""
        assert self._process.stdin is not None
        self._process.stdin.close()
        return self._process.wait(timeout=READY_TIMEOUT_S)

    def _read(self) -> None:
        assert self._process.stdout is not None
        for line in self._process.stdout:
            with self._changed:
                self._lines.append(line.rstrip("\n"))
                self._changed.notify_all()


def killed_cycle(data_dir: Path, models_dir: Path, rng: random.Random, *, told: int = 0) -> Cycle:
    """Start, wait until it answers and has told `told` people of their interrupted jobs,
    stream requests, and SIGKILL it at a random moment after a random number of them were
    answered: inside a turn, whatever its stage."""
    console = Console(data_dir, models_dir)
    console.send("/help")
    console.wait_for_replies(1 + told)
    # Started and answering, nothing asked yet: the store as the restart left it.
    at_start = consistency(data_dir) if (data_dir / "atelier.db").exists() else None
    requests = [_request(rng) for _ in range(STREAMED)]
    for request in requests:
        console.send(request)
    # At least two requests are still unanswered when the wait ends, so the kill lands in a
    # turn on a fast machine too.
    console.wait_for_replies(1 + told + rng.randrange(STREAMED - 2))
    moment = rng.uniform(0.0, KILL_WITHIN_S)
    time.sleep(moment)
    console.kill()
    # Replies after /help's: answers, and the tellings of what the previous kill stopped.
    answered = console.replies() - 1 - told_interrupted(console.lines)
    return Cycle(
        left_running=consistency(data_dir).jobs_running,
        sent=len(requests),
        answered=answered,
        killed_after_s=moment,
        at_start=at_start,
        output=console.lines,
    )


def _request(rng: random.Random) -> str:
    return "/forget yes" if rng.random() < FORGET_SHARE else rng.choice(REQUESTS)


def told_interrupted(output: list[str]) -> int:
    """How many interrupted jobs a run's output told the person about."""
    return sum(INTERRUPTED in line for line in output)


def clean_start(data_dir: Path, models_dir: Path, *, told: int = 0) -> list[str]:
    """A start with nothing to do: the restart after the last kill, which ends once it has
    answered and told `told` people of their interrupted jobs. Its output lines."""
    console = Console(data_dir, models_dir)
    console.send("/help")
    console.wait_for_replies(1 + told)  # each telling is a reply of its own
    code = console.finish()
    if code != 0:
        raise RuntimeError(f"the console exited with {code}: {console.lines[-5:]}")
    return console.lines


def consistency(data_dir: Path) -> Consistency:
    """The database and the media directory as they are on disk (read-only)."""
    media = data_dir / "media"
    on_disk = {p.relative_to(media).as_posix() for p in media.rglob("*") if p.is_file()}
    with sqlite3.connect(f"file:{data_dir / 'atelier.db'}?mode=ro", uri=True) as db:
        pieces = db.execute("SELECT count(*) FROM artifacts").fetchone()[0]
        wanted = {
            row[0]
            for row in db.execute(
                "SELECT media_path FROM artifacts WHERE media_path IS NOT NULL "
                "UNION SELECT path FROM artifact_files"
            )
        }
        unanswered = db.execute(
            "SELECT count(*) FROM messages AS asked WHERE asked.role = 'user' AND NOT EXISTS "
            "(SELECT 1 FROM messages AS answer WHERE answer.conversation_id = "
            "asked.conversation_id AND answer.id > asked.id AND answer.role = 'assistant')"
        ).fetchone()[0]
        jobs_running, untold = db.execute(
            "SELECT count(*) FILTER (WHERE state = 'running'), count(*) FILTER "
            "(WHERE state = 'interrupted' AND reported_at IS NULL) FROM jobs"
        ).fetchone()
    temporary = {path for path in on_disk if Path(path).name.startswith(TEMPORARY_PREFIX)}
    return Consistency(
        pieces=pieces,
        files=len(on_disk),
        pieces_without_file=len(wanted - on_disk),
        files_without_piece=len(on_disk - wanted - temporary),
        temporary_files=len(temporary),
        unanswered=unanswered,
        jobs_running=jobs_running,
        untold=untold,
    )


def _environment(data_dir: Path, models_dir: Path) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("ATELIER_") and key not in {"DISCORD_TOKEN"}
    }
    env.update(
        ATELIER_PROFILE="tiny",
        ATELIER_DATA_DIR=str(data_dir),
        ATELIER_MODELS_DIR=str(models_dir),
        ATELIER_LOG_LEVEL="WARNING",
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        HF_HUB_DISABLE_PROGRESS_BARS="1",
        PYTHONUNBUFFERED="1",
    )
    return env
