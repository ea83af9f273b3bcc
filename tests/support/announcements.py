"""What an agent says unprompted (Agent.announce_with), recorded for a test to wait on."""

from __future__ import annotations

import asyncio

from agent.types import Place, Reply


class Announcements:
    def __init__(self) -> None:
        self.said: list[tuple[Place, Reply]] = []
        self._arrived = asyncio.Event()

    async def __call__(self, place: Place, reply: Reply) -> None:
        self.said.append((place, reply))
        self._arrived.set()

    async def first(self, timeout_s: float = 5.0) -> tuple[Place, Reply]:
        """The first announcement; fails the test if none comes within `timeout_s`."""
        await asyncio.wait_for(self._arrived.wait(), timeout_s)
        return self.said[0]
