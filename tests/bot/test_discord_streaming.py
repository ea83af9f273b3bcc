"""Chat replies stream in Discord: the real discord.py client against the fake Discord (with
message edits, tests/support/fake_discord_edits.py) and the served chat model against the
fake OpenAI-compatible engine, which writes a word every quarter of a second."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from agent.chat.backends.served import build_served_model
from agent.config import Settings
from bot.discord.client import AtelierBot
from bot.discord.streaming import WRITING
from tests.support.fake_discord_edits import EditingFakeDiscord
from tests.support.fake_openai import MODEL, FakeOpenAI
from tests.support.workshop import MakeWorkshop

POEM = (
    "The heron keeps the river's edge, a grey thought standing in the reeds, "
    "and when the rain comes it does not move at all"
)


@pytest.fixture
async def fakes() -> AsyncIterator[tuple[EditingFakeDiscord, FakeOpenAI]]:
    discord_fake = EditingFakeDiscord(heartbeat_interval_ms=500)
    discord_fake.add_guild()
    await discord_fake.start()
    engine = FakeOpenAI()
    await engine.start()
    yield discord_fake, engine
    await engine.close()
    await discord_fake.close()


async def test_a_slow_reply_is_edited_in_as_it_is_written_at_most_once_a_second(
    fakes: tuple[EditingFakeDiscord, FakeOpenAI], make_studio: MakeWorkshop, tmp_path: Path
) -> None:
    fake, engine = fakes
    model = build_served_model(
        Settings(chat_base_url=engine.base_url, chat_api_key=SecretStr("k")), MODEL
    )
    studio = make_studio([], chat_model=model)
    engine.say(POEM, pause_s=0.25)  # 25 words: about six seconds of writing
    settings = Settings(
        data_dir=tmp_path, discord_api_base=fake.api_base, discord_gateway_url=fake.gateway_url
    )
    bot = AtelierBot(agent=studio.agent, settings=settings, guild_ready_timeout=0.05)
    task = asyncio.create_task(bot.start(fake.token))
    try:
        await asyncio.wait_for(bot.wait_until_ready(), 10)
        guild = fake.guilds[0]
        channel = guild.channel_ids[0]
        ada = fake.user("ada")
        me = fake.bot_user
        asked = fake.message(
            ada, f"<@{me['id']}> a poem?", channel_id=channel, guild_id=guild.id, mentions=(me,)
        )
        await fake.send_message(asked)
        await fake.wait_for(lambda: any(e.content == POEM for e in fake.message_edits), 20)
    finally:
        await bot.close()
        await task

    [answer] = fake.sent_in(channel)  # one message: the draft became the answer
    assert answer.content == POEM and answer.replies_to == asked["id"]
    assert [(m.role, m.content) for m in await studio.messages()][-1] == ("assistant", POEM)
    drafts = [e for e in fake.message_edits if e.content != POEM]
    # The first look was posted, then edited as the words came, each a longer start of it.
    seen = [fake.posted[answer.id].content, *[e.content for e in drafts]]
    assert len(seen) >= 3
    assert all(text.endswith(WRITING) for text in seen)
    assert all(POEM.startswith(text.removesuffix(WRITING)) for text in seen)
    assert [len(t) for t in seen] == sorted(len(t) for t in seen)
    # At most one edit a second: shows counted against the time they spanned.
    times = [answer.at, *[e.at for e in drafts]]
    span = times[-1] - times[0]
    assert len(times) - 1 <= span / 1.0 + 0.5
    # Arrival times carry the machine's jitter: two edits sent a second apart can land closer.
    assert all(later - earlier >= 0.5 for earlier, later in zip(times, times[1:], strict=False))
