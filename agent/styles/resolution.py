"""What a tool run draws on besides its focus, resolved from its Args before the job runs:

    from_pieces   the pictures a style learns from: each named piece the person can see AND
                  made themselves (else one line, nothing stored); the pictures sent with the
                  same turn count as theirs; none named and none sent: their kept pictures
    name          with from_pieces (training a style): not a name the person already gave
                  one of their styles
    style_name    the person's own STYLE piece of that name (else one line listing theirs)
    voice         True: the person's own poems, kept first, then their latest; never a
                  session's other members' poems

The fields are read by name from any tool's Args, so the agent needs no tool's own model.
Refusals are `DrawRefused`, whose message is the person's line.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from agent.store.artifacts import ArtifactNotFound, visible_artifact
from agent.store.db import Artifact
from agent.styles.listing import named_style, names_line, person_styles
from tools.contract import ArtifactKind, ToolArgs

# "learn my style from my kept pictures": the newest kept, enough for a LoRA of a few hundred
# steps without one training run reading a whole portfolio.
KEPT_PICTURES = 20
# Poems shown to the poem model as the person's voice: a few whole poems fit its prompt.
VOICE_POEMS = 5


class DrawRefused(LookupError):
    """A source, a style or a name the run may not use; the message is the person's line."""


@dataclass(frozen=True)
class Draws:
    """What the run draws on, as stored pieces (the studio turns them into tool views)."""

    sources: tuple[Artifact, ...] = ()
    personal_style: Artifact | None = None
    voice: tuple[str, ...] = ()


NO_DRAWS = Draws()


def draws_on_anything(args: ToolArgs) -> bool:
    """Whether these Args ask for anything resolved here (else nothing is read)."""
    return _trains(args) or bool(_field(args, "style_name")) or _field(args, "voice") is True


async def read_draws(
    session: AsyncSession, user_id: int, args: ToolArgs, uploaded: Sequence[Artifact] = ()
) -> Draws:
    """The Draws of `args` for this person, inside the caller's transaction; DrawRefused or
    ArtifactNotFound when one cannot be used."""
    if not draws_on_anything(args):
        return NO_DRAWS
    styles = await person_styles(session, user_id)
    sources: tuple[Artifact, ...] = ()
    if _trains(args):
        _check_new_name(styles, str(_field(args, "name") or ""))
        numbers = tuple(_field(args, "from_pieces") or ())
        sources = await _sources(session, user_id, numbers, uploaded)
    return Draws(
        sources=sources,
        personal_style=_personal_style(styles, _field(args, "style_name")),
        voice=await _voice(session, user_id) if _field(args, "voice") is True else (),
    )


def _field(args: ToolArgs, name: str) -> object:
    return getattr(args, name, None) if name in type(args).model_fields else None


def _trains(args: ToolArgs) -> bool:
    return "from_pieces" in type(args).model_fields


def _check_new_name(styles: Sequence[Artifact], name: str) -> None:
    if name.strip() and named_style(styles, name) is not None:
        raise DrawRefused(
            f"You already have a style named {name.strip()!r}: choose another name, or "
            "remove that one first with /style delete. Nothing was stored."
        )


def _personal_style(styles: Sequence[Artifact], name: object) -> Artifact | None:
    if not isinstance(name, str) or not name.strip():
        return None
    style = named_style(styles, name)
    if style is None:
        raise DrawRefused(f"You have no style named {name.strip()!r}. {names_line(styles)}")
    return style


async def _sources(
    session: AsyncSession, user_id: int, numbers: Sequence[int], uploaded: Sequence[Artifact]
) -> tuple[Artifact, ...]:
    """The uploads of this turn, then each named piece, once each; with neither, the
    person's kept pictures."""
    pieces = {piece.id: piece for piece in uploaded}
    for number in numbers:
        if number in pieces:
            continue
        piece = await visible_artifact(session, number, user_id)
        if piece is None:
            raise ArtifactNotFound(number)
        if piece.creator_id != user_id:
            raise DrawRefused(
                f"#{number} is not yours: a style learns only from your own pictures. "
                "Nothing was stored."
            )
        pieces[number] = piece
    if pieces:
        return tuple(pieces.values())
    return await _kept_pictures(session, user_id)


async def _kept_pictures(session: AsyncSession, user_id: int) -> tuple[Artifact, ...]:
    query = (
        select(Artifact)
        .where(
            Artifact.creator_id == user_id,
            Artifact.kind == ArtifactKind.IMAGE.value,
            Artifact.kept_at.is_not(None),
        )
        .order_by(Artifact.kept_at.desc(), Artifact.id.desc())
        .limit(KEPT_PICTURES)
    )
    return tuple((await session.execute(query)).scalars())


async def _voice(session: AsyncSession, user_id: int) -> tuple[str, ...]:
    """Their own poems' texts: the kept ones newest kept first, then their latest."""
    own = (
        Artifact.creator_id == user_id,
        Artifact.kind == ArtifactKind.POEM.value,
        Artifact.text.is_not(None),
    )
    kept_query = (
        select(Artifact.id, Artifact.text)
        .where(*own, Artifact.kept_at.is_not(None))
        .order_by(Artifact.kept_at.desc())
        .limit(VOICE_POEMS)
    )
    kept = list(await session.execute(kept_query))
    latest_query = (
        select(Artifact.id, Artifact.text)
        .where(*own, Artifact.id.not_in([number for number, _ in kept]))
        .order_by(Artifact.id.desc())
        .limit(VOICE_POEMS - len(kept))
    )
    latest = list(await session.execute(latest_query)) if len(kept) < VOICE_POEMS else []
    return tuple(text.strip() for _, text in (*kept, *latest) if text and text.strip())
