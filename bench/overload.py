"""Overload: 200 people ask for a picture at once against a global queue cap of 50, through the
fake Discord.

Run:
    .venv/bin/python bench/overload.py
    .venv/bin/python bench/overload.py --people 60 --cap 10 --steps 4

The bot runs as its own process, as `atelier run` runs it (the real discord.py client, the
creative tools on the tiny random-weight models, a fresh SQLite database), pointed at the fake
Discord (tests/support/fake_discord.py) served by this process, with ATELIER_JOBS_QUEUE_CAP
set to the cap. One picture is made first so the image model is loaded; then every person runs
/image in the server's channel at the same moment. A person past the cap is refused at once
(agent/jobs.py: "atelier is busy right now; try again in about N s"); everyone else waits for
their picture.

Printed:
    accepted / refused   how the requests were answered; every accepted one must arrive
    refused told in      from the command to the busy line (target: every one within 1 s)
    ack                  from the command to its deferral ("thinking..."), for everyone
    memory               the bot process's resident memory, sampled every 0.1 s: before the
                         burst, its peak during it, after it (flat: the queue is bounded)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.fake_bot import ms, p99, ready, start_bot  # noqa: E402
from tests.support.fake_discord import FakeDiscord, InteractionLog  # noqa: E402

ANSWER_TIMEOUT_S = 170.0
BUSY = "atelier is busy right now"
TOLD_WITHIN_S = 1.0


@dataclass
class Memory:
    """The bot's resident memory in MiB: one sample every `every_s` while running."""

    pid: int
    every_s: float = 0.1
    samples: list[float] = field(default_factory=list)

    async def sample_until(self, done: asyncio.Event) -> None:
        while not done.is_set():
            self.samples.append(rss_mib(self.pid))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), self.every_s)


@dataclass(frozen=True)
class Outcome:
    refused_in: float | None  # seconds to the busy line
    finished: bool  # the picture arrived
    other: str | None  # anything else it was answered with


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=200)
    parser.add_argument("--cap", type=int, default=50, help="ATELIER_JOBS_QUEUE_CAP")
    parser.add_argument("--steps", type=int, default=4, help="denoising steps per picture")
    args = parser.parse_args()
    return asyncio.run(_bench(args))


async def _bench(args: argparse.Namespace) -> int:
    fake = FakeDiscord()
    guild = fake.add_guild()
    channel = guild.channel_ids[0]
    await fake.start()
    with tempfile.TemporaryDirectory() as data_dir:
        settings = {"ATELIER_JOBS_QUEUE_CAP": str(args.cap), "ATELIER_MAX_NEW_TOKENS": "8"}
        bot = start_bot(fake, Path(data_dir), ["-m", "bot.cli", "run"], settings)
        try:
            await ready(fake, bot, "image")
            warm = await fake.slash(
                fake.user("warm-up"), "image", channel_id=channel, guild_id=guild.id, prompt="a cup"
            )
            await fake.wait_for(lambda: _settled(warm), ANSWER_TIMEOUT_S)
            memory = Memory(bot.pid)
            done = asyncio.Event()
            sampling = asyncio.create_task(memory.sample_until(done))
            await asyncio.sleep(0.3)  # a few samples before the burst
            people = [fake.user(f"person{n}") for n in range(args.people)]
            started = time.perf_counter()
            logs = await asyncio.gather(
                *(
                    fake.slash(
                        person,
                        "image",
                        channel_id=channel,
                        guild_id=guild.id,
                        prompt=f"a lighthouse {n}",
                        steps=args.steps,
                    )
                    for n, person in enumerate(people)
                )
            )
            with contextlib.suppress(TimeoutError):  # what never settled is counted as lost
                await fake.wait_for(_all_settled(logs), ANSWER_TIMEOUT_S)
            elapsed = time.perf_counter() - started
            await asyncio.sleep(0.3)
            done.set()
            await sampling
        finally:
            bot.terminate()
            bot.wait(60)
            await fake.close()
    outcomes = [_outcome(log) for log in logs]
    _print(args, logs, outcomes, memory.samples, elapsed)
    accepted = [o for o in outcomes if o.refused_in is None and o.other is None]
    refused = [o.refused_in for o in outcomes if o.refused_in is not None]
    all_done = all(o.finished for o in accepted)
    told_in_time = all(seconds <= TOLD_WITHIN_S for seconds in refused)
    return 0 if all_done and told_in_time and len(accepted) + len(refused) == len(logs) else 1


def _all_settled(logs: list[InteractionLog]) -> Callable[[], bool]:
    """A condition the fake checks after everything the bot does: it looks only at the logs
    not yet settled, so that checking it does not slow the fake down as the burst settles."""
    pending = list(logs)

    def settled() -> bool:
        pending[:] = [log for log in pending if not _settled(log)]
        return not pending

    return settled


def _settled(log: InteractionLog) -> bool:
    """Answered for good: a picture, or a last word that is not a progress line."""
    if any(followup.files for followup in log.followups):
        return True
    return any(BUSY in edit.content for edit in log.edits) or bool(
        log.callbacks and not log.deferred
    )


def _outcome(log: InteractionLog) -> Outcome:
    busy = next((edit for edit in log.edits if BUSY in edit.content), None)
    finished = any(followup.files for followup in log.followups)
    other = None
    if busy is None and not finished and log.edits:
        other = log.edits[-1].content[:80]
    refused_in = None if busy is None else busy.at - log.dispatched_at
    return Outcome(refused_in=refused_in, finished=finished, other=other)


def rss_mib(pid: int) -> float:
    """The process's resident memory now (VmRSS). A read of /proc does no disk I/O."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _print(
    args: argparse.Namespace,
    logs: list[InteractionLog],
    outcomes: list[Outcome],
    memory: list[float],
    elapsed: float,
) -> None:
    print(
        f"{args.people} people run /image (tiny model, {args.steps} steps) at once against a "
        f"queue cap of {args.cap}, through the fake Discord, {os.cpu_count()} CPUs: "
        f"all settled in {elapsed:.1f} s"
    )
    refused = [o.refused_in for o in outcomes if o.refused_in is not None]
    accepted = [o for o in outcomes if o.refused_in is None and o.other is None]
    finished = sum(o.finished for o in accepted)
    others = [o.other for o in outcomes if o.other is not None]
    print(
        f"accepted {len(accepted)} (finished {finished}, lost {len(accepted) - finished}); "
        f"refused busy {len(refused)}; answered otherwise {len(others)}"
        + (f" (e.g. {others[0]!r})" if others else "")
    )
    if refused:
        late = sum(seconds > TOLD_WITHIN_S for seconds in refused)
        print(
            f"refused told in: median {ms(statistics.median(refused))}, p99 {ms(p99(refused))}, "
            f"max {ms(max(refused))}; over {TOLD_WITHIN_S:g} s: {late}"
        )
    acks = [log.acknowledged_in for log in logs if log.acknowledged_in is not None]
    if acks:
        print(
            f"ack (deferral): median {ms(statistics.median(acks))}, p99 {ms(p99(acks))}, "
            f"max {ms(max(acks))}; never acknowledged: {len(logs) - len(acks)}"
        )
    if memory:
        print(
            f"bot RSS: start {memory[0]:.0f} MiB, peak {max(memory):.0f} MiB, "
            f"end {memory[-1]:.0f} MiB ({len(memory)} samples)"
        )


if __name__ == "__main__":
    raise SystemExit(main())
