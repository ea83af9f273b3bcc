"""The shared canvas: a session's pieces and, for each, who made which version; the credits.

Any member may build on any piece of the session, so a piece's versions often have several
contributors: each version's creator is the member who asked for it.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from agent.store.artifacts import root_of
from agent.store.db import Artifact, GroupSession, User

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
    for artifact, name in pieces:
        trees[root_of(artifact)].append((artifact, name))
    return "Canvas:\n" + "\n".join(_piece_line(versions) for versions in trees.values())


async def credits_text(session: AsyncSession, group: GroupSession) -> str:
    """What each member contributed: pieces and versions made."""
    made = Counter(name for _, name in await session_pieces(session, group))
    if not made:
        return "Nothing was made."
    return "Credits: " + ", ".join(f"{name} {_count(n)}" for name, n in made.most_common())


def _piece_line(versions: Sequence[tuple[Artifact, str]]) -> str:
    first, _ = versions[0]
    prompt = " ".join(first.prompt.split())[:PROMPT_CHARS]
    made = ", ".join(f"v{a.version} #{a.id} by {name}" for a, name in versions)
    return f"#{first.id} {first.kind} “{prompt}”: {made}"


def _count(n: int) -> str:
    return f"{n} version" + ("" if n == 1 else "s")
