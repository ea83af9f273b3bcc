"""A person's own styles: the STYLE pieces they made, found by name, and listed as lines.

A style's name is its params' `name` (what the STYLE tool recorded when it trained it),
matched without regard to case or surrounding spaces, so "Watercolor" names "watercolor".
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from agent.store.db import Artifact
from tools.contract import ArtifactKind


async def person_styles(session: AsyncSession, user_id: int) -> Sequence[Artifact]:
    """The STYLE pieces this person made, oldest first."""
    query = (
        select(Artifact)
        .where(Artifact.creator_id == user_id, Artifact.kind == ArtifactKind.STYLE.value)
        .order_by(Artifact.id)
    )
    return (await session.execute(query)).scalars().all()


def style_name(style: Artifact) -> str:
    return str(style.params.get("name") or "").strip()


def same_name(a: str, b: str) -> bool:
    return a.strip().casefold() == b.strip().casefold()


def named_style(styles: Sequence[Artifact], name: str) -> Artifact | None:
    return next((style for style in styles if same_name(style_name(style), name)), None)


def pictures_of(style: Artifact) -> int | None:
    """How many pictures it learned from, as the STYLE tool recorded it: a count, or the
    numbers of its pictures; None when it recorded neither."""
    params = style.params
    count = params.get("pictures")
    if isinstance(count, int) and not isinstance(count, bool):
        return count
    for key in ("sources", "from_pieces"):
        numbers = params.get(key)
        if isinstance(numbers, list | tuple) and numbers:
            return len(numbers)
    return None


def style_row(style: Artifact) -> str:
    """`watercolor: #12, made 2026-12-07 18:40 UTC, on 6 pictures`."""
    made = style.created_at.strftime("%Y-%m-%d %H:%M UTC")
    count = pictures_of(style)
    on = "" if count is None else f", on {count} picture" + ("" if count == 1 else "s")
    return f"{style_name(style) or '(unnamed)'}: #{style.id}, made {made}{on}"


def names_line(styles: Sequence[Artifact]) -> str:
    """The person's styles by name and number, for a refusal that names them."""
    if not styles:
        return "You have no trained styles yet: train one with /style train."
    named = ", ".join(f"{style_name(style)} (#{style.id})" for style in styles)
    return f"Your styles: {named}."
