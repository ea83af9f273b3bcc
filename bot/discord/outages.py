"""A part sent through a short Discord outage.

discord.py retries a 429 after its Retry-After and a 500, 502 or 504 on its own, but gives a
503 (Service Unavailable: Discord did nothing with the request) up at once, which would lose
the answer of a turn already stored. Such a send is tried again after a pause, twice, before
it is given up; other errors are the caller's, as before.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

import discord

logger = logging.getLogger(__name__)

T = TypeVar("T")
PAUSES_S = (1.0, 3.0)  # before each new try, as discord.py paces its own 5xx retries
UNAVAILABLE = 503


async def through_outages(send: Callable[[], Awaitable[T]]) -> T:
    """`send()`, again after each pause while Discord answers 503."""
    for pause in PAUSES_S:
        try:
            return await send()
        except discord.DiscordServerError as error:
            if error.status != UNAVAILABLE:
                raise
        logger.warning("Discord answered 503 Service Unavailable; sending again in %g s", pause)
        await asyncio.sleep(pause)
    return await send()
