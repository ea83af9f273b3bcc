"""The logs hold no token at any level, and what people write only at DEBUG.

The bot runs against the fake Discord with the root logger writing through the handler
`atelier` installs (bot/log_redaction.py); a person mentions the bot and runs /help, whose
answer goes to the interaction's callback URL with its token in the path. A subprocess test
in test_discord_cli.py checks that `atelier run` itself logs through that handler.
"""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage

from bot.discord.client import AtelierBot
from bot.log_redaction import REDACTED, redact, redacting_handler
from tests.support.cli_env import fake_discord, fake_discord_settings
from tests.support.fake_discord import FakeDiscord, InteractionLog
from tests.support.workshop import MakeWorkshop

WORDS = "the heron sings at midnight"  # what a person wrote


class Answers(GenericFakeChatModel):
    """A chat model that answers "hello Ada" (and calls no tools)."""

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> Answers:
        return self


def answers() -> Answers:
    return Answers(messages=iter([AIMessage("hello Ada")] * 3))


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with fake_discord() as fake:
        yield fake


@pytest.fixture
def captured(fake: FakeDiscord) -> Iterator[tuple[io.StringIO, logging.Handler]]:
    """The root logger writes through atelier's handler into a buffer while the test runs."""
    buffer = io.StringIO()
    handler = redacting_handler(buffer, [fake.token])
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    yield buffer, handler
    root.removeHandler(handler)
    root.setLevel(level)


async def talk(fake: FakeDiscord, make_studio: MakeWorkshop, tmp_path: Path) -> InteractionLog:
    """Ada mentions the bot with WORDS, then runs /help; both are answered."""
    studio = make_studio([], tool_chat=answers())
    settings = fake_discord_settings(fake, tmp_path)
    bot = AtelierBot(agent=studio.agent, settings=settings, guild_ready_timeout=0.05)
    task = asyncio.create_task(bot.start(fake.token))
    try:
        await asyncio.wait_for(bot.wait_until_ready(), 10)
        guild, ada, me = fake.guilds[0], fake.user("ada"), fake.bot_user
        channel = guild.channel_ids[0]
        mention = fake.message(
            ada, f"<@{me['id']}> {WORDS}", channel_id=channel, guild_id=guild.id, mentions=(me,)
        )
        await fake.send_message(mention)
        await fake.wait_for_sent(1)
        helped = await fake.slash(ada, "help", channel_id=channel, guild_id=guild.id)
        return await fake.wait_for_interaction(helped, lambda log: bool(log.said))
    finally:
        await bot.close()
        await task


@pytest.mark.parametrize("level", [logging.DEBUG, logging.INFO])
async def test_no_token_reaches_the_logs(
    fake: FakeDiscord,
    make_studio: MakeWorkshop,
    tmp_path: Path,
    captured: tuple[io.StringIO, logging.Handler],
    level: int,
) -> None:
    buffer, _ = captured
    logging.getLogger().setLevel(level)
    helped = await talk(fake, make_studio, tmp_path)
    logs = buffer.getvalue()
    assert helped.said  # the person was answered
    assert helped.token not in logs
    assert fake.token not in logs
    if level == logging.DEBUG:  # discord.py logged the callback URL, token redacted
        assert f"/interactions/{helped.id}/{REDACTED}/callback" in logs


async def test_at_info_nothing_a_person_wrote_is_logged(
    fake: FakeDiscord,
    make_studio: MakeWorkshop,
    tmp_path: Path,
    captured: tuple[io.StringIO, logging.Handler],
) -> None:
    buffer, _ = captured
    logging.getLogger().setLevel(logging.INFO)
    await talk(fake, make_studio, tmp_path)
    logs = buffer.getvalue()
    assert "slash commands: " in logs  # INFO lines were written
    assert "heron" not in logs


@pytest.mark.parametrize(
    ("line", "kept"),
    [
        (
            "POST https://discord.com/api/v10/interactions/1234/aW50ZXJhY3Rpb24.x-Y_z/callback",
            "POST https://discord.com/api/v10/interactions/1234/<redacted>/callback",
        ),
        (
            "PATCH https://discord.com/api/v10/webhooks/98/aW50ZXJh.Y3Rpb24/messages/@original",
            "PATCH https://discord.com/api/v10/webhooks/98/<redacted>/messages/@original",
        ),
        (
            "WebSocket Event: {'t': 'INTERACTION_CREATE', 'd': {'token': 'aW50ZX.Jh', 'id': '5'}}",
            "WebSocket Event: {'t': 'INTERACTION_CREATE', 'd': {'token': '<redacted>', 'id': '5'}}",
        ),
        ("headers {'Authorization': 'Bot MTA.Gh.xyz'}", "headers {'Authorization': '<redacted>'}"),
        (
            "cannot reach postgresql+asyncpg://atelier:s3cr%40t@db:5432/atelier",
            "cannot reach postgresql+asyncpg://atelier:<redacted>@db:5432/atelier",
        ),
        ("logged in with MTA.the-bot.token here", "logged in with <redacted> here"),
        ("nothing secret in 42 pieces", "nothing secret in 42 pieces"),
    ],
)
def test_each_kind_of_secret_is_redacted(line: str, kept: str) -> None:
    assert redact(line, ["MTA.the-bot.token"]) == kept


def test_a_secret_in_an_exception_or_its_arguments_is_redacted() -> None:
    buffer = io.StringIO()
    logger = logging.getLogger("tests.redaction")
    handler = redacting_handler(buffer, ["MTA.the-bot.token"])
    logger.addHandler(handler)
    logger.propagate = False
    try:
        try:
            raise ValueError("token MTA.the-bot.token was refused")
        except ValueError:
            logger.exception("login with %s failed", "MTA.the-bot.token")
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
    logs = buffer.getvalue()
    assert "MTA.the-bot.token" not in logs
    assert "login with <redacted> failed" in logs and "ValueError: token <redacted>" in logs
