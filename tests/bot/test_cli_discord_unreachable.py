"""`atelier run` when Discord cannot be reached: a line per try, then exit code 3.

Nothing here touches the network: "unreachable" is a port on this machine that nobody
listens on, or the fake Discord answering 503 at login.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace

import aiohttp
import pytest

from bot.cli import main
from bot.discord.client import run_bot
from bot.discord.reaching import Patience, why_unreachable
from tests.support.cli_env import discord_env, fake_discord, fake_discord_settings, tiny_models_env
from tests.support.fake_discord import FakeDiscord
from tests.support.workshop import MakeWorkshop
from tools.models.text import LoadedCausalLM

GIVE_UP = (
    "atelier: cannot reach Discord (connection refused) after 3 attempts: check this "
    "machine's network and https://discordstatus.com, then start atelier again"
)


def closed_port() -> int:
    """A local port nothing listens on (bound, read, released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def run_env(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    models_cache_dir: Path,
    tiny_chat: LoadedCausalLM,  # built and cached before `atelier run` loads it
) -> None:
    """`atelier run` in this process, with no settings but these."""
    port = closed_port()
    env = {
        "ATELIER_DATA_DIR": str(tmp_path / "data"),
        "ATELIER_CONFIG": str(tmp_path / "atelier.toml"),
        **tiny_models_env(models_cache_dir),
        **discord_env(f"http://127.0.0.1:{port}/api/v10", f"ws://127.0.0.1:{port}/"),
        "ATELIER_DISCORD_TOKEN": "a-token-discord-never-sees",
        "ATELIER_DISCORD_CONNECT_ATTEMPTS": "3",
        "ATELIER_DISCORD_CONNECT_DELAY_S": "0",
    }
    for name in [n for n in os.environ if n.startswith("ATELIER_")]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)


def test_run_tries_again_a_line_each_time_then_exits_3(
    run_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run"]) == 3
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    # In this process the model loader may draw a bar (a fresh `atelier` hides it): atelier's
    # own lines are what is checked.
    assert [line for line in err.splitlines() if line.startswith("atelier")] == [
        "atelier: loading the chat model...",
        "atelier: connecting to Discord (Ctrl-C stops)",
        "atelier: cannot reach Discord (connection refused); retrying in 0 s (attempt 2 of 3)",
        "atelier: cannot reach Discord (connection refused); retrying in 0 s (attempt 3 of 3)",
        GIVE_UP,
    ]


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with fake_discord() as fake:
        yield fake


async def test_a_503_at_login_is_said_then_the_bot_connects(
    make_studio: MakeWorkshop, fake: FakeDiscord, tmp_path: Path
) -> None:
    fake.inject("GET", "/users/@me", 503, {"message": "upstream connect error", "code": 0})
    settings = fake_discord_settings(
        fake, tmp_path, discord_connect_attempts=3, discord_connect_delay_s=0
    )
    said: list[str] = []
    bot = asyncio.create_task(run_bot(make_studio([]).agent, settings, fake.token, say=said.append))
    try:
        await fake.wait_until_identified(timeout=20)
    finally:
        bot.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await bot
    assert said == [
        "cannot reach Discord (Discord answered HTTP 503); retrying in 0 s (attempt 2 of 3)"
    ]
    assert fake.requests.count(("GET", "/users/@me")) == 2


def test_the_waits_double_up_to_a_minute() -> None:
    assert Patience(attempts=6, first_delay_s=20).delays() == [20, 40, 60, 60, 60]
    assert Patience(attempts=1, first_delay_s=2).delays() == []


def test_a_dns_failure_is_named_with_its_host() -> None:
    where = SimpleNamespace(host="discord.com", port=443, ssl=True)
    failure = aiohttp.ClientConnectorDNSError(where, socket.gaierror(-2, "Name does not resolve"))
    assert why_unreachable(failure) == "DNS lookup of discord.com failed"
    assert why_unreachable(TimeoutError()) == "timed out"
