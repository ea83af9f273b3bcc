"""The rows behind /settings: a server's policy (ServerPolicy) and its audit (PolicyChange)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Insert, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from agent.policy.models import PolicyChange, ServerPolicy
from agent.policy.rules import NO_SERVER, Buttons, ServerRules
from agent.store.db import utcnow
from agent.types import UserRef

# The settings an admin changes, as the audit names them: each is a column of ServerPolicy.
SETTINGS = ("channels", "buttons", "blocklist", "nsfw", "blocked_users")


async def server_rules(session: AsyncSession, platform: str, guild_id: str) -> ServerRules:
    row = await _row(session, platform, guild_id)
    return NO_SERVER if row is None else rules_of(row)


async def policy_for_change(session: AsyncSession, platform: str, guild_id: str) -> ServerPolicy:
    """The server's row, locked until the transaction ends (PostgreSQL; SQLite has one writer
    at a time), created with nothing set if the server has none yet. Two first changes at
    once both count: the second waits for the first one's row instead of failing on it."""
    row = await _row(session, platform, guild_id, lock=True)
    if row is None:
        await session.execute(_insert_missing(session, platform, guild_id))
        row = await _row(session, platform, guild_id, lock=True)
    assert row is not None  # inserted just now, or by the change that won the race
    return row


def change(session: AsyncSession, row: ServerPolicy, setting: str, new: Any, by: UserRef) -> bool:
    """Set `setting` to `new` and audit it with its old value; False when it was `new`
    already (nothing changed, nothing audited)."""
    assert setting in SETTINGS
    old = getattr(row, setting)
    if old == new:
        return False
    setattr(row, setting, new)  # a new list, never the old one changed in place
    session.add(
        PolicyChange(
            platform=row.platform,
            guild_id=row.guild_id,
            actor_id=by.external_id,
            actor_name=by.display_name,
            setting=setting,
            old=old,
            new=new,
        )
    )
    return True


async def recent_changes(
    session: AsyncSession, platform: str, guild_id: str, limit: int
) -> list[PolicyChange]:
    """The server's newest changes, newest first."""
    query = (
        select(PolicyChange)
        .where(PolicyChange.platform == platform, PolicyChange.guild_id == guild_id)
        .order_by(PolicyChange.id.desc())
        .limit(limit)
    )
    return list((await session.execute(query)).scalars())


def rules_of(row: ServerPolicy) -> ServerRules:
    return ServerRules(
        channels=tuple(row.channels),
        buttons=_buttons(row.buttons),
        blocklist=tuple(row.blocklist),
        nsfw=row.nsfw,
        blocked_users=tuple(row.blocked_users),
    )


def _buttons(stored: str | None) -> Buttons | None:
    if stored == "everyone":
        return "everyone"
    return "requester" if stored == "requester" else None


def _insert_missing(session: AsyncSession, platform: str, guild_id: str) -> Insert:
    dialect = session.get_bind().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    values = {"channels": [], "blocklist": [], "nsfw": False, "blocked_users": []}
    return (
        insert(ServerPolicy)
        .values(platform=platform, guild_id=guild_id, updated_at=utcnow(), **values)
        .on_conflict_do_nothing(index_elements=["platform", "guild_id"])
    )


async def _row(
    session: AsyncSession, platform: str, guild_id: str, *, lock: bool = False
) -> ServerPolicy | None:
    query = select(ServerPolicy).where(
        ServerPolicy.platform == platform, ServerPolicy.guild_id == guild_id
    )
    return await session.scalar(query.with_for_update() if lock else query)
