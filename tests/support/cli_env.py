"""What the `atelier` command's tests start it with: the tiny models, and the local fake
Discord in place of discord.com (its addresses as settings, or as the variables a process
reads), so no test reaches the network."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from agent.config import Settings
from tests.support.fake_discord import FakeDiscord

# A random tiny model given tools never calls one, so what a person says stays chat (scored
# routing would send "hello" to a random tool); four tokens are answer enough.
QUICK_CHAT = {"ATELIER_MAX_NEW_TOKENS": "4", "ATELIER_ROUTING": "tools"}


def tiny_models_env(models_cache_dir: Path) -> dict[str, str]:
    """The tiny profile, its models read from the tests' cache (built there first by the
    `tiny_chat` fixture, so the process loads, never downloads)."""
    return {"ATELIER_PROFILE": "tiny", "ATELIER_MODELS_DIR": str(models_cache_dir)}


def discord_env(api_base: str, gateway_url: str) -> dict[str, str]:
    """Where the process looks for Discord's REST API and gateway."""
    return {"ATELIER_DISCORD_API_BASE": api_base, "ATELIER_DISCORD_GATEWAY_URL": gateway_url}


def fake_discord_settings(fake: FakeDiscord, data_dir: Path, **more: Any) -> Settings:
    """Settings for a bot run in the test's own process against `fake`."""
    return Settings(
        data_dir=data_dir,
        discord_api_base=fake.api_base,
        discord_gateway_url=fake.gateway_url,
        **more,
    )


@asynccontextmanager
async def fake_discord() -> AsyncIterator[FakeDiscord]:
    """The fake Discord with one server, listening while the block runs."""
    fake = FakeDiscord()
    fake.add_guild()
    await fake.start()
    try:
        yield fake
    finally:
        await fake.close()
