"""Group sessions under load: 10 sessions x 5 members x 20 messages at once, through the fake
Discord.

Run:
    .venv/bin/python bench/session_load.py
    .venv/bin/python bench/session_load.py --sessions 3 --members 3 --messages 5

The bot runs as its own process, as `atelier run` runs it (the real discord.py client, every
creative tool on the tiny random-weight models, a fresh SQLite database), pointed at the fake
Discord (tests/support/fake_discord.py) served by this process. Each session's host starts it
with /session start in a channel of its own, which opens a thread; the other members join with
/session join there. Then every member of every session talks in their thread at once, one
message after another (the next once the answer came), without mentioning the bot. Chat stays
chat (ATELIER_ROUTING=tools: the random tiny model never calls a tool).

Meanwhile, in the first session (free mode), every member also asks for pictures with /image,
keeping three in the works at a time (the per-person limit): the tool jobs of one session
under contention. The order in which they finish shows whether one member is served ahead of
the others.

Printed:
    ack       a message: time to the "typing..." the bot shows in the thread
    answer    time until the answer arrived, as a reply to that message
    lost      sent but never answered (must be 0)
    fairness  the first session's tool jobs served per member until the first member had all
              theirs: the largest count over the smallest (target <= 1.5)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.fake_bot import Timings, ms, p99, peak_rss_mib, ready, start_bot  # noqa: E402
from tests.support.fake_discord import (  # noqa: E402
    FakeDiscord,
    InteractionLog,
    Payload,
    SentMessage,
)

ANSWER_TIMEOUT_S = 300.0
IN_THE_WORKS = 3  # the per-person limit: one running, two queued


@dataclass(frozen=True)
class Session:
    channel: str
    thread: str
    members: tuple[Payload, ...]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=10)
    parser.add_argument("--members", type=int, default=5)
    parser.add_argument("--messages", type=int, default=20)
    parser.add_argument("--pictures", type=int, default=6, help="per member, first session")
    parser.add_argument("--max-new-tokens", type=int, default=8)
    args = parser.parse_args()
    return asyncio.run(_bench(args))


async def _bench(args: argparse.Namespace) -> int:
    fake = FakeDiscord()
    guild = fake.add_guild(channels=tuple(f"studio-{n}" for n in range(args.sessions)))
    await fake.start()
    with tempfile.TemporaryDirectory() as data_dir:
        settings = {"ATELIER_MAX_NEW_TOKENS": str(args.max_new_tokens), "ATELIER_ROUTING": "tools"}
        bot = start_bot(fake, Path(data_dir), ["-m", "bot.cli", "run"], settings)
        try:
            await ready(fake, bot, "session")
            sessions = [
                await _open(fake, guild.id, channel, args.members, n)
                for n, channel in enumerate(guild.channel_ids)
            ]
            chat = Timings()
            started = time.perf_counter()
            talk = [
                _member(fake, guild.id, s, m, args.messages, chat)
                for s in sessions
                for m in s.members
            ]
            served = _pictures(fake, guild.id, sessions[0], args.pictures)
            _, order = await asyncio.gather(asyncio.gather(*talk), served)
            elapsed = time.perf_counter() - started
            peak = peak_rss_mib(bot.pid)
        finally:
            bot.terminate()
            bot.wait(60)
            await fake.close()
    _print(args, chat, order, elapsed, peak)
    return 0 if chat.lost == 0 else 1


async def _open(fake: FakeDiscord, guild: str, channel: str, members: int, n: int) -> Session:
    people = tuple(fake.user(f"s{n}m{i}") for i in range(members))
    theme = f"harbour {n}"
    start = await fake.slash(
        people[0], "session start", channel_id=channel, guild_id=guild, theme=theme
    )
    await _answered(fake, start)
    [thread] = fake.threads_in(channel)
    for person in people[1:]:
        join = await fake.slash(person, "session join", channel_id=thread["id"], guild_id=guild)
        await _answered(fake, join)
    return Session(channel, thread["id"], people)


async def _answered(fake: FakeDiscord, log: InteractionLog) -> None:
    """Until the bot answered the interaction: privately, or by posting in the thread (its
    "thinking..." then deleted)."""
    await fake.wait_for(lambda: bool(log.said or log.followups or log.deleted), ANSWER_TIMEOUT_S)


async def _member(
    fake: FakeDiscord,
    guild: str,
    session: Session,
    person: Payload,
    messages: int,
    timings: Timings,
) -> None:
    for number in range(messages):
        text = f"message {number}: what should we add to the harbour?"
        await _chat(fake, guild, session.thread, person, text, timings)


async def _chat(
    fake: FakeDiscord, guild: str, thread: str, person: Payload, text: str, timings: Timings
) -> None:
    payload = fake.message(person, text, channel_id=thread, guild_id=guild)
    typed_before = sum(1 for channel, _ in fake.typing_at if channel == thread)
    timings.sent += 1
    sent_at = time.perf_counter()
    await fake.send_message(payload)
    try:
        await fake.wait_for(lambda: _reply_to(fake, payload["id"]) is not None, ANSWER_TIMEOUT_S)
    except TimeoutError:
        timings.lost += 1
        return
    answer = _reply_to(fake, payload["id"])
    assert answer is not None
    typed = [at for channel, at in fake.typing_at if channel == thread][typed_before:]
    timings.answer.append(answer.at - sent_at)
    timings.ack.append(min([answer.at, *typed]) - sent_at)


def _reply_to(fake: FakeDiscord, message_id: str) -> SentMessage | None:
    return next((m for m in fake.sent if m.replies_to == message_id), None)


async def _pictures(fake: FakeDiscord, guild: str, session: Session, per_member: int) -> list[str]:
    """Every member asks for `per_member` pictures, three in the works at a time; returns
    who was served, in the order the pictures arrived."""
    served: list[str] = []

    async def ask(person: Payload, number: int, room: asyncio.Semaphore) -> None:
        async with room:
            prompt = f"a boat {number}"
            log = await fake.slash(
                person, "image", channel_id=session.thread, guild_id=guild, prompt=prompt
            )
            made = lambda: any(followup.files for followup in log.followups)  # noqa: E731
            await fake.wait_for(made, ANSWER_TIMEOUT_S)
            served.append(person["id"])

    async def member(person: Payload) -> None:
        room = asyncio.Semaphore(IN_THE_WORKS)
        await asyncio.gather(*(ask(person, n, room) for n in range(per_member)))

    await asyncio.gather(*(member(person) for person in session.members))
    return served


def fairness(order: list[str], per_member: int) -> float | None:
    """Served per member until the first member had all theirs: largest over smallest."""
    counts: Counter[str] = Counter()
    for who in order:
        counts[who] += 1
        if counts[who] == per_member:
            break
    members = set(order)
    smallest = min(counts.get(m, 0) for m in members)
    return None if not smallest else max(counts.values()) / smallest


def _print(
    args: argparse.Namespace, chat: Timings, order: list[str], elapsed: float, peak: float
) -> None:
    print(
        f"{args.sessions} sessions x {args.members} members x {args.messages} messages in "
        f"threads through the fake Discord, tiny models, max_new_tokens={args.max_new_tokens}, "
        f"{os.cpu_count()} CPUs, {elapsed:.1f} s"
    )
    median = statistics.median
    ack = ms(median(chat.ack)) if chat.ack else "-"
    answer = ms(median(chat.answer)) if chat.answer else "-"
    print(
        f"messages: sent {chat.sent}, lost {chat.lost}; ack median {ack}, p99 {ms(p99(chat.ack))}; "
        f"answer median {answer}, p99 {ms(p99(chat.answer))}"
    )
    ratio = fairness(order, args.pictures)
    shown = "-" if ratio is None else f"{ratio:.2f}"
    print(
        f"first session's pictures: {len(order)} served; largest share over smallest until the "
        f"first member had all {args.pictures}: {shown} (target <= 1.5)"
    )
    print(f"bot process peak RSS: {peak:.0f} MiB")


if __name__ == "__main__":
    raise SystemExit(main())
