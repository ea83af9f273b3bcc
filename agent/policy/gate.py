"""The checks transports and the agent ask of a server's policy, answered from memory.

Every message in a server asks whether atelier answers there, so each server's rules are read
once and kept. Only /settings changes them, through this same object (`changed`), so what is
kept is what is stored: atelier runs one process per database.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agent.policy.rules import NO_RULES, NO_SERVER, PlaceRules, ServerRules
from agent.policy.store import server_rules
from agent.types import Place, Turn


class Policies:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self._known: dict[tuple[str, str], ServerRules] = {}

    async def of(self, platform: str, guild_id: str | None) -> ServerRules:
        """The rules of the server `guild_id`; none outside a server."""
        if guild_id is None:
            return NO_SERVER
        key = (platform, guild_id)
        known = self._known.get(key)
        if known is None:
            async with self._sessions() as session:
                known = await server_rules(session, platform, guild_id)
            self._known[key] = known
        return known

    async def refusal(self, platform: str, place: Place, user_id: str) -> str | None:
        """Why atelier does not answer `user_id` at `place` (one line), or None: they are
        blocked in that server, or the channel is not one it answers in."""
        return (await self.of(platform, place.guild_id)).refusal(place, user_id)

    async def for_turn(self, turn: Turn) -> PlaceRules | str:
        """What the server asks of the tools for `turn`, or why it is not answered."""
        if turn.place.guild_id is None:
            return NO_RULES
        server = await self.of(turn.platform, turn.place.guild_id)
        refused = server.refusal(turn.place, turn.user.external_id)
        return server.at(turn.place) if refused is None else refused

    def changed(self, platform: str, guild_id: str, rules: ServerRules) -> None:
        """/settings committed `rules` for this server."""
        self._known[(platform, guild_id)] = rules
