"""The shared canvas: a session's pieces and, for each, who made which version; the winners
of its rounds.

Any member may build on any piece of the session, so a piece's versions often have several
contributors: each version's creator is the member who asked for it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from agent.store.artifacts import root_of
from agent.store.db import Artifact, GroupSession, SessionRound, User

FORMER_MEMBER = "a former member"
PROMPT_CHARS = 60


async def session_pieces(session: AsyncSession, group: GroupSession) -> list[tuple[Artifact, str]]:
    """Every artifact made in the session, oldest first, with its contributor's name."""
    query = (
        select(Artifact, User.display_name)
        .outerjoin(User, Artifact.creator_id == User.id)
        .where(Artifact.conversation_id == group.conversation_id)
        .order_by(Artifact.id)
    )
    rows = await session.execute(query)
    return [(artifact, name or FORMER_MEMBER) for artifact, name in rows]


async def canvas_text(session: AsyncSession, group: GroupSession) -> str:
    """One line a piece: its first version, then each version with who made it."""
    pieces = await session_pieces(session, group)
    if not pieces:
        return "The canvas is empty: ask for a poem, a picture or some music to begin."
    trees: dict[int, list[tuple[Artifact, str]]] = defaultdict(list)
    names = {}
    for artifact, name in pieces:
        trees[root_of(artifact)].append((artifact, name))
        names[artifact.id] = name
    lines = [_piece_line(versions) for versions in trees.values()]
    for number, winner in await round_winners(session, group):
        lines.append(f"Round {number} winner: #{winner} by {names.get(winner, FORMER_MEMBER)}")
    return "Canvas:\n" + "\n".join(lines)


async def round_winners(session: AsyncSession, group: GroupSession) -> list[tuple[int, int]]:
    """(round number, winning piece) of each closed round that had a winner: the canvas."""
    query = (
        select(SessionRound.number, SessionRound.winner_id)
        .where(SessionRound.session_id == group.id, SessionRound.winner_id.is_not(None))
        .order_by(SessionRound.number)
    )
    return [(number, winner) for number, winner in await session.execute(query)]


def _piece_line(versions: Sequence[tuple[Artifact, str]]) -> str:
    first, _ = versions[0]
    prompt = " ".join(first.prompt.split())[:PROMPT_CHARS]
    made = ", ".join(f"v{a.version} #{a.id} by {name}" for a, name in versions)
    return f"#{first.id} {first.kind} “{prompt}”: {made}"
