"""Reaching Discord at start-up: tried again with a growing wait, one line per try.

discord.py retries on its own once it is connected (gateway resumes, 429s, 5xx on a call), but
its login is one try: a network that is not up yet (the machine just booted), a DNS failure or
a Discord outage ends it with an aiohttp traceback. Here such a failure is said in one line
and tried again, the wait doubling up to a cap; after the last try, DiscordUnreachable ends
the process with its own exit code (README: Exit codes), so a service manager can tell "try
again later" from "fix the configuration" (exit 2).
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import aiohttp
import discord

from agent.config import StartupError

# The longest wait between two tries, whatever the first delay.
MAX_DELAY_S = 60.0

# What an unreachable Discord raises out of a login: the network, DNS, a timeout, a 5xx
# after discord.py's own retries. A refused token or intent is not among them.
UNREACHABLE: tuple[type[BaseException], ...] = (
    OSError,  # aiohttp's connection errors and TimeoutError are OSErrors
    aiohttp.ClientError,
    discord.DiscordServerError,
    discord.GatewayNotFound,
)


class DiscordUnreachable(StartupError):
    """Discord could not be reached in any of the tries."""

    exit_code = 3


@dataclass(frozen=True)
class Patience:
    attempts: int
    first_delay_s: float

    def delays(self) -> list[float]:
        """The wait before each try after the first."""
        waits, delay = [], self.first_delay_s
        for _ in range(self.attempts - 1):
            waits.append(delay)
            delay = min(delay * 2, MAX_DELAY_S)
        return waits

    async def keep_trying(
        self, connect: Callable[[], Awaitable[None]], say: Callable[[str], None]
    ) -> None:
        """Run `connect` until it returns or fails for a reason other than an unreachable
        Discord; an unreachable one is said and tried again, `attempts` times in all."""
        waits = self.delays()
        for attempt in range(1, self.attempts + 1):
            try:
                return await connect()
            except UNREACHABLE as exc:
                reason = why_unreachable(exc)
            if attempt == self.attempts:
                break
            wait = waits[attempt - 1]
            say(
                f"cannot reach Discord ({reason}); retrying in {wait:g} s "
                f"(attempt {attempt + 1} of {self.attempts})"
            )
            await asyncio.sleep(wait)
        tries = f"{self.attempts} attempt{'s' if self.attempts > 1 else ''}"
        raise DiscordUnreachable(
            f"cannot reach Discord ({reason}) after {tries}: check this machine's network "
            "and https://discordstatus.com, then start atelier again"
        )


def why_unreachable(exc: BaseException) -> str:
    """A few words on why, for the operator's line."""
    if isinstance(exc, discord.DiscordServerError):
        return f"Discord answered HTTP {exc.status}"
    if isinstance(exc, discord.GatewayNotFound):
        return "Discord's gateway was not found"
    cause = exc.os_error if isinstance(exc, aiohttp.ClientConnectorError) else exc
    if isinstance(exc, aiohttp.ClientConnectorDNSError) or isinstance(cause, socket.gaierror):
        host = getattr(exc, "host", None)
        return f"DNS lookup of {host} failed" if host else "DNS lookup failed"
    if isinstance(cause, ConnectionRefusedError):
        return "connection refused"
    if isinstance(cause, TimeoutError):
        return "timed out"
    if isinstance(cause, OSError) and cause.strerror:
        return cause.strerror.lower()
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "the server closed the connection"
    return type(exc).__name__
