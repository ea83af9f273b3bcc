"""`atelier run`: a real process that starts the Discord bot, or refuses in one line.

The bot connects to the local fake Discord through ATELIER_DISCORD_API_BASE and
ATELIER_DISCORD_GATEWAY_URL, with the tiny chat model, exactly as an operator starts it.
(What Discord refuses at start-up, a token or an intent, is tested in-process in
test_discord.py: each process here takes seconds to import torch and load a model.)
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.cli_env import QUICK_CHAT, discord_env, fake_discord, tiny_models_env
from tests.support.fake_discord import FakeDiscord
from tests.support.fixtures_models import REPO_ROOT
from tools.models.text import LoadedCausalLM

RUN = [sys.executable, "-m", "bot.cli", "run"]


@pytest.fixture
def run_env(base_env: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in base_env.items() if k != "DISCORD_TOKEN"}
    return env


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with fake_discord() as fake:
        yield fake


@pytest.fixture
def bot_env(
    run_env: dict[str, str], fake: FakeDiscord, models_cache_dir: Path, tiny_chat: LoadedCausalLM
) -> dict[str, str]:
    # Depending on tiny_chat makes sure the tiny model is already built and cached.
    return {
        **run_env,
        **discord_env(fake.api_base, fake.gateway_url),
        **tiny_models_env(models_cache_dir),
        **QUICK_CHAT,
        "ATELIER_CHAT_MODEL": "tiny:chat",
    }


@pytest.mark.parametrize("token", [None, "   "])
def test_run_without_a_token_refuses_in_one_line(
    run_env: dict[str, str], token: str | None
) -> None:
    env = run_env if token is None else {**run_env, "ATELIER_DISCORD_TOKEN": token}
    result = subprocess.run(RUN, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert "ATELIER_DISCORD_TOKEN" in line and "atelier chat" in line
    assert result.stdout == ""


def _default_signals() -> None:
    # A shell starting a job in the background (`make test &`) ignores SIGINT for it, and
    # children inherit that: the bot must get Ctrl-C as a person's terminal sends it.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


# Ctrl-C in a terminal; SIGTERM from `docker stop` or `systemctl stop`.
@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
async def test_run_answers_a_mention_on_discord_then_stops_cleanly(
    bot_env: dict[str, str], fake: FakeDiscord, stop: signal.Signals
) -> None:
    # DISCORD_TOKEN, the name other bots use, is read when ATELIER_DISCORD_TOKEN is unset.
    process = await asyncio.create_subprocess_exec(
        *RUN,
        env={**bot_env, "DISCORD_TOKEN": fake.token},
        stderr=subprocess.PIPE,
        preexec_fn=_default_signals,
    )
    try:
        await fake.wait_until_identified(timeout=60)
        channel = fake.guilds[0].channel_ids[0]
        me = fake.bot_user
        await fake.send_message(
            fake.message(
                fake.user("ada"),
                f"<@{me['id']}> hello",
                channel_id=channel,
                guild_id=fake.guilds[0].id,
                mentions=(me,),
            )
        )
        [answer] = await fake.wait_for_sent(1, timeout=60)
    finally:
        process.send_signal(stop)
        # A guard against a hang, not a speed target: it stops in ~1.5 s on an idle machine.
        _, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert answer.channel_id == channel and answer.content.strip()
    assert answer.pings_nobody
    assert process.returncode in (0, 130)
    assert "Traceback" not in stderr.decode(), stderr.decode()


def test_make_run_without_a_token_chats_in_the_terminal(
    run_env: dict[str, str], models_cache_dir: Path, tiny_chat: LoadedCausalLM
) -> None:
    """A person trying atelier types `make run` and can talk to it at once: one line says how
    to go on Discord, then the terminal chat answers what is piped in."""
    env = {**run_env, **tiny_models_env(models_cache_dir), **QUICK_CHAT}
    result = subprocess.run(
        ["make", "--no-print-directory", "-s", "run"],
        cwd=REPO_ROOT,
        env=env,
        input="hello there\n",
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stderr
    # Nothing else: no library notices, no progress bars of model loads.
    assert result.stderr.strip().splitlines() == [
        "atelier: chatting in this terminal; to run on Discord, set ATELIER_DISCORD_TOKEN to "
        "your bot's token from the Discord Developer Portal"
    ]
    assert result.stdout.strip()  # the chat model's answer to "hello there"


async def test_run_with_a_refused_token_is_one_line_and_exit_2(
    bot_env: dict[str, str], fake: FakeDiscord
) -> None:
    """A bad token is no outage: not tried again, and exit 2 (fix the configuration)."""
    process = await asyncio.create_subprocess_exec(
        *RUN, env={**bot_env, "ATELIER_DISCORD_TOKEN": "not-the-token"}, stderr=subprocess.PIPE
    )
    _, stderr = await asyncio.wait_for(process.communicate(), 120)
    lines = stderr.decode().strip().splitlines()
    assert process.returncode == 2
    assert lines[-1].startswith("atelier: Discord refused the bot token"), lines
    assert not [line for line in lines if "cannot reach Discord" in line]
    assert fake.requests.count(("GET", "/users/@me")) == 1
    assert "Traceback" not in stderr.decode()


async def test_run_at_debug_logs_no_token(bot_env: dict[str, str], fake: FakeDiscord) -> None:
    """`atelier run` logs through the redacting handler: at DEBUG discord.py logs each
    interaction's callback URL, and the token in it is redacted, as is the bot's."""
    process = await asyncio.create_subprocess_exec(
        *RUN,
        env={**bot_env, "ATELIER_DISCORD_TOKEN": fake.token, "ATELIER_LOG_LEVEL": "DEBUG"},
        stderr=subprocess.PIPE,
        preexec_fn=_default_signals,
    )
    assert process.stderr is not None
    reading = asyncio.create_task(process.stderr.read())  # DEBUG fills a pipe: drain it
    try:
        await fake.wait_until_identified(timeout=60)
        await fake.wait_for(lambda: "help" in fake.commands, 60)
        guild = fake.guilds[0]
        helped = await fake.slash(
            fake.user("ada"), "help", channel_id=guild.channel_ids[0], guild_id=guild.id
        )
        await fake.wait_for_interaction(helped, lambda log: bool(log.said), 60)
    finally:
        process.send_signal(signal.SIGINT)
        await asyncio.wait_for(process.wait(), 60)
    logs = (await reading).decode()
    assert f"/interactions/{helped.id}/<redacted>/callback" in logs
    assert helped.token not in logs and fake.token not in logs
    assert "Traceback" not in logs
