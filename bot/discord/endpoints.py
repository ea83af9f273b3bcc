"""Pointing discord.py at another Discord-compatible endpoint (the tests' fake, a proxy).

discord.py has no per-client setting for either address: every REST route is built from the
class attribute `discord.http.Route.BASE` (the bot's own calls, and the webhook calls that
answer interactions), and the gateway address is the class attribute
`discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY`. Both are process-wide, so they are changed
only for as long as a bot runs, by `pointed_at`, which puts back exactly what it found when the
bot stops (however it stops). Nothing else changes them, so a test that runs a bot leaves
discord.py as it was; one process runs one bot at a time.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import yarl
from discord.gateway import DiscordWebSocket
from discord.http import Route


@contextmanager
def pointed_at(api_base: str | None, gateway_url: str | None) -> Iterator[None]:
    """Within the block, REST calls go to `api_base` and the gateway is `gateway_url`;
    None keeps discord.py's own. Restored on exit, exception or cancellation included."""
    saved_base, saved_gateway = Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY
    if api_base is not None:
        Route.BASE = api_base.rstrip("/")
    if gateway_url is not None:
        # discord.py adds its query (?v=10&encoding=json...) to this URL as it connects.
        DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)
    try:
        yield
    finally:
        Route.BASE = saved_base
        DiscordWebSocket.DEFAULT_GATEWAY = saved_gateway
