"""Session votes as taste: the pieces a member voted for in sessions where they opted in lean
their next requests with the pieces they kept (newest first), and /taste says so; a member who
did not opt in lends nothing, and nobody's vote counts for anyone else."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select

from agent.store.db import SessionMember
from agent.types import Place
from tests.support.studio_tools import RECALL, VerseArgs, write_verse
from tests.support.workshop import MakeWorkshop, Workshop
from tools.contract import ArtifactKind, Tool

ELSEWHERE = Place(channel_id="c2", guild_id="g1", is_direct=False)


def _form_named(text: str) -> Mapping[str, Any]:
    return {"form": "haiku"} if "haiku" in text else {}


# The round's poem tool (the first poem tool registered): its candidates' form from the words.
POET = Tool("verse", "Write a verse.", ArtifactKind.POEM, VerseArgs, write_verse, reads=_form_named)


async def _round_with_votes(studio: Workshop) -> tuple[int, int]:
    """Ada keeps a couplet of her own elsewhere; in a round Bob proposes a haiku, Cy a
    couplet; Ada votes for Bob's, Bob for Cy's. The two candidates' numbers."""
    await studio.command("/verse a heron", place=ELSEWHERE)
    await studio.command("/keep #1", place=ELSEWHERE)
    await studio.command("/session start mode=rounds a harbour")
    for member in ("bob", "cy"):
        await studio.command("/session join", user=member)
    await studio.command("/session round kind=poem the sea")
    [bobs] = (await studio.say("a haiku of gulls", user="bob")).ballot
    [cys] = (await studio.say("fog on the quay", user="cy")).ballot
    assert (await studio.command(f"/session vote #{bobs}")).text == f"Your vote for #{bobs} is in."
    await studio.command(f"/session vote #{cys}", user="bob")
    return bobs, cys


async def _recalled(studio: Workshop, user: str = "ada") -> str:
    """The forms the tool is offered as the person's taste, newest first, in a private chat."""
    return (await studio.command("/recall taste", user=user, place=ELSEWHERE)).text


async def _poems_line(studio: Workshop) -> str:
    return (await studio.command("/taste", place=ELSEWHERE)).text.splitlines()[1]


async def test_votes_count_with_kept_pieces_only_once_the_member_opts_in(
    make_studio: MakeWorkshop,
) -> None:
    studio = make_studio([POET, RECALL])
    await _round_with_votes(studio)
    # Not opted in: Ada's vote lends nothing, and Bob's vote is never Ada's taste.
    assert await _recalled(studio) == "couplet"
    assert await _poems_line(studio) == "poems: couplet (from 1 kept piece)"
    await studio.command("/session taste on")
    # The vote (newer than the keep) comes first; Bob's vote for a couplet is not in it.
    assert await _recalled(studio) == "haiku couplet"
    assert await _poems_line(studio) == "poems: haiku (from 1 kept piece and 1 vote)"
    assert await _recalled(studio, user="bob") == "none"  # Bob did not opt in
    await studio.command("/session taste on", user="bob")
    assert await _recalled(studio, user="bob") == "couplet"  # his own vote, for Cy's couplet
    # Nothing else changed: no piece kept by a vote, every candidate still there.
    assert [a.kept_at is not None for a in await studio.artifacts()][:3] == [True, False, False]


async def test_clearing_a_medium_withdraws_its_votes_and_opting_in_again_counts_them(
    make_studio: MakeWorkshop,
) -> None:
    studio = make_studio([POET, RECALL])
    candidates = await _round_with_votes(studio)
    await studio.command("/session taste on")
    untouched = await studio.command("/taste clear pictures", place=ELSEWHERE)
    assert (
        untouched.text == "Nothing to clear: you have kept no pictures and no session votes count."
    )
    assert await _recalled(studio) == "haiku couplet"
    cleared = await studio.command("/taste clear poems", place=ELSEWHERE)
    assert "1 kept piece(s) no longer lean" in cleared.text
    assert "Your votes in 1 session no longer count" in cleared.text
    assert await _recalled(studio) == "none"
    assert (await _poems_line(studio)).startswith("poems: nothing yet")
    async with studio.sessions() as session:
        opted = (await session.execute(select(SessionMember.taste))).scalars().all()
    assert list(opted) == [False, False, False]
    await studio.command("/session taste on")
    assert await _recalled(studio) == "haiku"  # the vote stands; the keep was cleared
    assert {1, *candidates} <= {a.id for a in await studio.artifacts()}  # nothing deleted
