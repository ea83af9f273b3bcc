"""What the Discord benches share: the bot as its own process against the fake Discord, and
the figures they print (p99, milliseconds, the process's peak memory)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.fake_discord import FakeDiscord


@dataclass
class Timings:
    """One kind of turn: acknowledgement and answer times, what was sent and never answered."""

    ack: list[float] = field(default_factory=list)
    answer: list[float] = field(default_factory=list)
    sent: int = 0
    lost: int = 0


def start_bot(
    fake: FakeDiscord, data_dir: Path, command: Sequence[str], settings: Mapping[str, str]
) -> subprocess.Popen[bytes]:
    """`command` as the bot's process, pointed at the fake, with these ATELIER_ settings on
    a clean environment (offline, its own data directory, the tiny models)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ATELIER_")}
    env.update(
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        ATELIER_CONFIG=str(data_dir / "none.toml"),
        ATELIER_DATA_DIR=str(data_dir),
        ATELIER_PROFILE="tiny",
        ATELIER_DISCORD_TOKEN=fake.token,
        ATELIER_DISCORD_API_BASE=fake.api_base,
        ATELIER_DISCORD_GATEWAY_URL=fake.gateway_url,
        ATELIER_DISCORD_RATE_PER_MINUTE="1000",
        **settings,
    )
    return subprocess.Popen([sys.executable, *command], env=env, cwd=Path(__file__).parent.parent)


async def ready(fake: FakeDiscord, bot: subprocess.Popen[bytes], command: str) -> None:
    """Until the bot has identified and registered `command`, and on_ready has passed
    (discord.py waits guild_ready_timeout, 2 s, after the last GUILD_CREATE)."""
    deadline = time.perf_counter() + 180
    while fake.identify is None or command not in fake.commands:
        if bot.poll() is not None:
            raise SystemExit(f"the bot exited with {bot.returncode}")
        if time.perf_counter() > deadline:
            raise SystemExit("the bot did not connect within 180 s")
        await asyncio.sleep(0.1)
    await asyncio.sleep(2.5)


def peak_rss_mib(pid: int) -> float:
    """The process's peak resident set (VmHWM), from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def p99(values: Sequence[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]


def ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.0f} ms"
