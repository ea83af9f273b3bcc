"""A person's taste as stored: the pieces they kept (/keep), and the pieces they voted for in
group sessions where they let their taste count (/session taste on), newest first.

Both lean the tools the same way (the params a tool receives as `kept`). A vote counts while
the member's opt-in in that session is on (`SessionMember.taste`, as it is now: turning it off,
or /taste clear, withdraws that session's votes); a member who never opted in lends nothing.
Only the person's own votes count, for whoever's piece: normally another member's, their own
only for candidates the bot made for them or where the host allows self-votes, and picking one
of those says as much about taste. A piece both kept and voted for counts once, as kept.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import String, and_, func, literal_column, or_, select, union_all, update
from sqlalchemy.ext.asyncio import AsyncSession

from agent.store.db import Artifact, RoundVote, SessionMember, SessionRound

# The newest pieces of a kind that lean its tool: a taste follows what a person likes lately.
TASTE_RECENT = 5
KEPT, VOTED = "kept", "voted"


@dataclass(frozen=True)
class Tasted:
    """One piece a person's taste is read from: its params, and whether it was a vote."""

    params: Mapping[str, Any]
    voted: bool


async def taste_pieces(
    session: AsyncSession, user_id: int, kinds: Collection[str], limit: int = TASTE_RECENT
) -> dict[str, list[Tasted]]:
    """By kind, the pieces of these kinds the person kept or counted a vote for, newest
    first (when kept, when the vote was cast), at most `limit` a kind, in one query."""
    if not kinds:
        return {}
    both = union_all(_kept(user_id, kinds), _voted(user_id, kinds)).subquery()
    # A window function ranks each kind's own, so free text that may become any kind costs
    # one query, not one a kind.
    rank = func.row_number().over(
        partition_by=both.c.kind, order_by=(both.c.at.desc(), both.c.source)
    )
    ranked = select(both.c.kind, both.c.params, both.c.source, rank.label("rank")).subquery()
    query = (
        select(ranked.c.kind, ranked.c.params, ranked.c.source)
        .where(ranked.c.rank <= limit)
        .order_by(ranked.c.kind, ranked.c.rank)
    )
    taste: dict[str, list[Tasted]] = {}
    for kind, params, source in await session.execute(query):
        taste.setdefault(kind, []).append(Tasted(dict(params), voted=source == VOTED))
    return taste


def taste_params(
    taste: Mapping[str, Sequence[Tasted]],
) -> dict[str, tuple[Mapping[str, Any], ...]]:
    """The params the tools receive as `kept`, by kind."""
    return {kind: tuple(piece.params for piece in pieces) for kind, pieces in taste.items()}


async def withdraw_votes(session: AsyncSession, user_id: int, kinds: Collection[str]) -> int:
    """Turn the person's opt-in off in every session where a vote of theirs for a piece of
    these kinds counts (the opt-in is per session, not per medium); how many sessions."""
    counted = (
        select(SessionRound.session_id)
        .join(RoundVote, RoundVote.round_id == SessionRound.id)
        .join(Artifact, Artifact.id == RoundVote.artifact_id)
        .where(RoundVote.voter_id == user_id, Artifact.kind.in_(kinds))
    )
    result = await session.execute(
        update(SessionMember)
        .where(
            SessionMember.user_id == user_id,
            SessionMember.taste.is_(True),
            SessionMember.session_id.in_(counted),
        )
        .values(taste=False)
    )
    return int(result.rowcount or 0)


def _kept(user_id: int, kinds: Collection[str]) -> Any:
    return select(
        Artifact.kind,
        Artifact.params,
        Artifact.kept_at.label("at"),
        literal_column(f"'{KEPT}'", String).label("source"),
    ).where(
        Artifact.creator_id == user_id,
        Artifact.kept_at.is_not(None),
        Artifact.kind.in_(kinds),
    )


def _voted(user_id: int, kinds: Collection[str]) -> Any:
    opted_in = and_(
        SessionMember.session_id == SessionRound.session_id,
        SessionMember.user_id == RoundVote.voter_id,
        SessionMember.taste.is_(True),
    )
    # Null-safe (a piece whose maker forgot it has no creator): not already counted as kept.
    not_kept_by_them = or_(
        Artifact.creator_id.is_distinct_from(user_id), Artifact.kept_at.is_(None)
    )
    return (
        select(
            Artifact.kind,
            Artifact.params,
            RoundVote.cast_at.label("at"),
            literal_column(f"'{VOTED}'", String).label("source"),
        )
        .join(RoundVote, RoundVote.artifact_id == Artifact.id)
        .join(SessionRound, SessionRound.id == RoundVote.round_id)
        .join(SessionMember, opted_in)
        .where(RoundVote.voter_id == user_id, Artifact.kind.in_(kinds), not_kept_by_them)
    )
