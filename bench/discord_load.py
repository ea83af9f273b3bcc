"""The Discord bot under load: 50 people x 10 messages through the local fake Discord.

Run:
    .venv/bin/python bench/discord_load.py
    .venv/bin/python bench/discord_load.py --users 20 --messages 5 --max-new-tokens 16

The bot runs as its own process, as `atelier run` runs it (the real discord.py client, the
agent on the tiny random-weight chat model `tiny:chat`, a fresh SQLite database migrated by
Alembic), pointed at the fake Discord (tests/support/fake_discord.py) served by this process. Each
simulated person chats with the bot in a DM, one message after another (the next once the
answer came), all people at once; every fifth message is the slash command /history instead.
The bot has no creative tools here (a tool run on the tiny models takes tens of seconds on
two cores and would measure the model, not the transport): every message is a chat turn.

Printed, per kind of turn:
    ack       a message: time to the "typing..." the bot shows; a slash command: time to
              its deferral (Discord wants it within 3 s)
    answer    time until the answer arrived (chat replies wait for the chat model, one
              generation at a time)
    lost      sent but never answered (must be 0)
and the bot process's peak resident memory (VmHWM). The per-person rate limit is raised
for the run (ATELIER_DISCORD_RATE_PER_MINUTE) so that it measures the bot, not the limit.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.fake_bot import Timings, ms, p99, peak_rss_mib, ready, start_bot  # noqa: E402
from tests.support.fake_discord import FakeDiscord, Payload  # noqa: E402

ANSWER_TIMEOUT_S = 120.0
SLASH_EVERY = 5


@dataclass
class Load:
    chat: Timings = field(default_factory=Timings)
    slash: Timings = field(default_factory=Timings)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--messages", type=int, default=10)
    parser.add_argument("--max-new-tokens", type=int, default=8)
    parser.add_argument("--bot", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bot:
        asyncio.run(_serve_bot())
        return 0
    return asyncio.run(_bench(args.users, args.messages, args.max_new_tokens))


# -- the bot process --------------------------------------------------------------------------


async def _serve_bot() -> None:
    """`atelier run` without the creative tools: settings from the environment."""
    from agent.chat.model import build_chat_model
    from agent.config import Settings
    from agent.factory import assemble_agent, build_model_registry
    from agent.jobs import JobLimits, Jobs
    from agent.store import migrate
    from agent.store.engine import create_engine, session_factory
    from bot.discord.client import run_bot
    from tools.models.specs import CHAT_ROLE

    settings = Settings()
    url = settings.effective_database_url
    await asyncio.to_thread(migrate.upgrade, url)
    models = build_model_registry(settings)
    loaded = await asyncio.to_thread(models.pin, CHAT_ROLE.name)
    engine = create_engine(url)
    jobs = Jobs(JobLimits(settings.jobs_running, settings.jobs_queued, settings.tool_workers))
    agent = assemble_agent(
        settings,
        sessions=session_factory(engine),
        chat_model=build_chat_model(settings, loaded),  # type: ignore[arg-type]
        tools=(),
        models=models,
        jobs=jobs,
    )
    token = os.environ["ATELIER_DISCORD_TOKEN"]
    try:
        await run_bot(agent, settings, token)
    finally:
        jobs.shutdown()
        await engine.dispose()


# -- the people -------------------------------------------------------------------------------


async def _bench(users: int, messages: int, max_new_tokens: int) -> int:
    fake = FakeDiscord()
    fake.add_guild()
    await fake.start()
    with tempfile.TemporaryDirectory() as data_dir:
        bot = _start_bot(fake, Path(data_dir), max_new_tokens)
        try:
            await ready(fake, bot, "history")
            people = [fake.user(f"person{i}") for i in range(users)]
            load = Load()
            started = time.perf_counter()
            await asyncio.gather(*(_person(fake, p, messages, load) for p in people))
            elapsed = time.perf_counter() - started
            peak = peak_rss_mib(bot.pid)
        finally:
            bot.terminate()
            bot.wait(30)
            await fake.close()
    _print(users, messages, max_new_tokens, load, elapsed, peak)
    return 0 if load.chat.lost + load.slash.lost == 0 else 1


def _start_bot(fake: FakeDiscord, data_dir: Path, max_new_tokens: int) -> subprocess.Popen[bytes]:
    settings = {"ATELIER_MAX_NEW_TOKENS": str(max_new_tokens)}
    return start_bot(fake, data_dir, [__file__, "--bot"], settings)


async def _person(fake: FakeDiscord, person: Payload, messages: int, load: Load) -> None:
    dm = fake.dm_channel()
    for number in range(messages):
        if (number + 1) % SLASH_EVERY == 0:
            await _slash(fake, person, dm, load.slash)
        else:
            await _chat(fake, person, dm, f"message {number}: tell me about herons", load.chat)


async def _chat(fake: FakeDiscord, person: Payload, dm: str, text: str, timings: Timings) -> None:
    typed_before = sum(1 for channel, _ in fake.typing_at if channel == dm)
    answered_before = sum(1 for m in fake.sent if m.channel_id == dm)
    timings.sent += 1
    sent_at = time.perf_counter()
    await fake.send_message(fake.message(person, text, channel_id=dm))
    try:
        await fake.wait_for(
            lambda: sum(1 for m in fake.sent if m.channel_id == dm) > answered_before,
            ANSWER_TIMEOUT_S,
        )
    except TimeoutError:
        timings.lost += 1
        return
    typed = [at for channel, at in fake.typing_at if channel == dm][typed_before:]
    answer = [m for m in fake.sent if m.channel_id == dm][answered_before]
    timings.answer.append(answer.at - sent_at)
    timings.ack.append((typed[0] if typed else answer.at) - sent_at)


async def _slash(fake: FakeDiscord, person: Payload, dm: str, timings: Timings) -> None:
    timings.sent += 1
    log = await fake.slash(person, "history", channel_id=dm)
    try:
        await fake.wait_for(lambda: bool(log.edits), ANSWER_TIMEOUT_S)
    except TimeoutError:
        timings.lost += 1
        return
    assert log.acknowledged_in is not None
    timings.ack.append(log.acknowledged_in)
    timings.answer.append(log.edits[-1].at - log.dispatched_at)


def _print(
    users: int, messages: int, tokens: int, load: Load, elapsed: float, peak_mib: float
) -> None:
    print(
        f"{users} people x {messages} messages through the fake Discord, tiny:chat, "
        f"max_new_tokens={tokens}, {os.cpu_count()} CPUs, {elapsed:.1f} s"
    )
    header = ("turn", "sent", "lost", "ack median", "ack p99", "answer median", "answer p99")
    rows = [header]
    for name, timings in (("chat message", load.chat), ("/history", load.slash)):
        rows.append(
            (
                name,
                str(timings.sent),
                str(timings.lost),
                ms(statistics.median(timings.ack) if timings.ack else None),
                ms(p99(timings.ack)),
                ms(statistics.median(timings.answer) if timings.answer else None),
                ms(p99(timings.answer)),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
    print(f"bot process peak RSS: {peak_mib:.0f} MiB")


if __name__ == "__main__":
    raise SystemExit(main())
