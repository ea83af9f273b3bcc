"""Sharding: one bot split across processes, each running some of its Discord shards.

Discord sends each server's events on one shard of the bot, (guild id >> 22) % shard count,
and each shard is a gateway connection of its own that identifies as [id, count]. With
ATELIER_DISCORD_SHARD_COUNT set, the bot is discord.py's AutoShardedBot running the shards
named in ATELIER_DISCORD_SHARD_IDS (unset: all of them), so N processes on one or several
machines, given disjoint ids, run one bot together over a shared PostgreSQL. What is no
server's event, a group session's deadlines that every process re-arms at start, is acted on
by whichever process claims it first in the database (agent/sessions/clock.py).

The settings are checked when they are read (agent/config.py): an id outside the count, or
ids without a count, stops the start in one line (exit 2).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from agent.config import Settings


@dataclass(frozen=True)
class Shards:
    """The shards this process runs, out of `count`."""

    count: int
    ids: tuple[int, ...]

    @property
    def registers_commands(self) -> bool:
        # Slash commands are global: one process registering them is enough, and several
        # overwriting one another at the same moment would race. Shard 0 always exists.
        return 0 in self.ids

    def client_options(self) -> dict[str, Any]:
        """What discord.py's AutoShardedBot takes."""
        return {"shard_count": self.count, "shard_ids": list(self.ids)}

    def describe(self) -> str:
        """For the operator's start-up line: "shard 1 of 2", "shards 0, 1 of 4"."""
        named = ", ".join(str(number) for number in self.ids)
        return f"shard{'s' if len(self.ids) > 1 else ''} {named} of {self.count}"


def shards_of(settings: Settings) -> Shards | None:
    """The shards the settings give this process; None: not sharded."""
    count = settings.discord_shard_count
    if count is None:
        return None
    given = settings.discord_shard_ids
    ids = range(count) if given is None else sorted(int(part) for part in given.split(","))
    return Shards(count, tuple(ids))
