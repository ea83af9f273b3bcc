"""Sharding: a process given shard ids runs only those shards of the bot, against the fake
Discord's gateway (which answers READY with the shard a connection identified as); bad shard
settings stop the start in one line."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from discord.ext import commands

from agent.config import Settings, SettingsError, load_settings
from bot.discord.client import atelier_bot
from tests.bot.test_discord import scripted
from tests.support.fake_discord import FakeDiscord
from tests.support.workshop import MakeWorkshop


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    fake = FakeDiscord(heartbeat_interval_ms=500)
    fake.add_guild()
    await fake.start()
    yield fake
    await fake.close()


def bot_settings(fake: FakeDiscord, tmp_path: Path, **shards: Any) -> Settings:
    return Settings(
        data_dir=tmp_path,
        discord_api_base=fake.api_base,
        discord_gateway_url=fake.gateway_url,
        **shards,
    )


def registered_commands(fake: FakeDiscord) -> bool:
    return any(method == "PUT" and path.endswith("/commands") for method, path in fake.requests)


async def test_a_process_given_shard_1_of_2_runs_that_shard_alone(
    fake: FakeDiscord, make_studio: MakeWorkshop, tmp_path: Path
) -> None:
    studio = make_studio([], tool_chat=scripted("Herons wait in the shallows."))
    settings = bot_settings(fake, tmp_path, discord_shard_count=2, discord_shard_ids="1")
    bot = atelier_bot(agent=studio.agent, settings=settings, guild_ready_timeout=0.05)
    task = asyncio.create_task(bot.start(fake.token))
    try:
        await asyncio.wait_for(bot.wait_until_ready(), 10)
        guild, ada = fake.guilds[0], fake.user("ada")
        asked = fake.message(
            ada,
            f"<@{fake.bot_user['id']}> herons?",
            channel_id=guild.channel_ids[0],
            guild_id=guild.id,
            mentions=(fake.bot_user,),
        )
        await fake.send_message(asked)
        [answer] = await fake.wait_for_sent(1)
    finally:
        await bot.close()
        await task

    assert isinstance(bot, commands.AutoShardedBot)
    # One gateway connection, identified as shard 1 of 2: shard 0 is another process's.
    assert [identify.get("shard") for identify in fake.identifies] == [[1, 2]]
    assert list(bot.shards) == [1]
    assert answer.content == "Herons wait in the shallows."
    # Slash commands are registered once, by the process that runs shard 0.
    assert not registered_commands(fake)


@pytest.mark.parametrize(
    ("shards", "identified_as"),
    [({}, [None]), ({"discord_shard_count": 2, "discord_shard_ids": "0"}, [[0, 2]])],
    ids=["unsharded", "shard-0-of-2"],
)
async def test_the_process_with_shard_0_or_no_shards_registers_the_commands(
    fake: FakeDiscord,
    make_studio: MakeWorkshop,
    tmp_path: Path,
    shards: dict[str, Any],
    identified_as: list[list[int] | None],
) -> None:
    studio = make_studio([])
    settings = bot_settings(fake, tmp_path, **shards)
    bot = atelier_bot(agent=studio.agent, settings=settings, guild_ready_timeout=0.05)
    task = asyncio.create_task(bot.start(fake.token))
    try:
        await asyncio.wait_for(bot.wait_until_ready(), 10)
        await fake.wait_for(lambda: "session" in fake.commands)
    finally:
        await bot.close()
        await task

    assert isinstance(bot, commands.AutoShardedBot) == bool(shards)
    assert [identify.get("shard") for identify in fake.identifies] == identified_as
    assert registered_commands(fake)


@pytest.mark.parametrize(
    ("env", "said"),
    [
        ({"DISCORD_SHARD_COUNT": "2", "DISCORD_SHARD_IDS": "0,2"}, "from 0 to 1"),
        ({"DISCORD_SHARD_COUNT": "2", "DISCORD_SHARD_IDS": "1,1"}, "each id once"),
        ({"DISCORD_SHARD_COUNT": "2", "DISCORD_SHARD_IDS": "one"}, "shard numbers with commas"),
        ({"DISCORD_SHARD_IDS": "0"}, "need the shard count"),
        ({"DISCORD_SHARD_COUNT": "two"}, "ATELIER_DISCORD_SHARD_COUNT='two'"),
        ({"DISCORD_SHARD_COUNT": "0"}, "greater than or equal to 1"),
    ],
)
def test_bad_shard_settings_are_refused_in_one_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, env: dict[str, str], said: str
) -> None:
    monkeypatch.setenv("ATELIER_CONFIG", str(tmp_path / "atelier.toml"))
    for name, value in env.items():
        monkeypatch.setenv(f"ATELIER_{name}", value)
    with pytest.raises(SettingsError) as refused:
        load_settings()
    assert said in str(refused.value) and "\n" not in str(refused.value)
    assert refused.value.exit_code == 2


def test_atelier_run_with_a_shard_outside_the_count_exits_2(base_env: dict[str, str]) -> None:
    env = {
        **base_env,
        "ATELIER_DISCORD_TOKEN": "not-used",
        "ATELIER_DISCORD_SHARD_COUNT": "2",
        "ATELIER_DISCORD_SHARD_IDS": "2",
    }
    run = [sys.executable, "-m", "bot.cli", "run"]
    result = subprocess.run(run, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("atelier: invalid setting ATELIER_DISCORD_SHARD_IDS='2'")
