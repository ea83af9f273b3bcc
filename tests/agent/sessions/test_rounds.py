"""Rounds: the host opens a round, members propose candidates (made by the round's tool) and
vote; the winner becomes the canvas; votes and deadlines survive a restart."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from agent.store.db import GroupSession, RoundVote, SessionRound, utcnow
from tests.support.announcements import Announcements
from tests.support.studio_tools import JUDGE, SKETCH, VERSE
from tests.support.workshop import MakeWorkshop, Workshop


@pytest.fixture
def rounds(make_studio: MakeWorkshop) -> Workshop:
    return make_studio([VERSE, SKETCH])


async def open_image_round(group: Workshop, options: str = "") -> None:
    await group.command("/session start mode=rounds a harbour")
    await group.command("/session join", user="bob")
    await group.command("/session join", user="cy")
    opened = await group.command(f"/session round kind=image {options} a lighthouse at dusk")
    assert opened.text.startswith("Round 1 is open: image — “a lighthouse at dusk”")


async def test_candidates_and_votes_pick_a_winner_that_becomes_the_canvas(
    rounds: Workshop,
) -> None:
    await open_image_round(rounds)
    bobs = await rounds.say("with gulls circling", user="bob")
    cys = await rounds.say("under a red moon", user="cy")
    assert bobs.ballot == (bobs.artifacts[0].number,) and cys.ballot
    bob_piece, cy_piece = bobs.ballot[0], cys.ballot[0]
    first, second = await rounds.artifacts()
    assert first.prompt == "a lighthouse at dusk, with gulls circling" and first.kind == "image"
    own = await rounds.command(f"/session vote #{bob_piece}", user="bob")
    assert own.text == "That is your own candidate: vote for someone else's." and own.private
    bobs_vote = await rounds.command(f"/session vote #{cy_piece}", user="bob")
    assert bobs_vote.text == f"Your vote for #{cy_piece} is in." and bobs_vote.private
    await rounds.command(f"/session vote #{bob_piece}", user="cy")
    last = await rounds.command(f"/session vote #{cy_piece}", user="ada")
    assert last.text.startswith(
        f"Ada cast the last vote. Everyone has voted. Round 1 closed. Winner: #{cy_piece}."
    )
    assert not last.private
    assert f"Tally: #{bob_piece} 1 vote, #{cy_piece} 2 votes." in last.text
    assert [a.number for a in last.artifacts] == [cy_piece]
    canvas = await rounds.command("/session canvas", user="bob")
    assert f"Round 1 winner: #{cy_piece} by Cy" in canvas.text
    late = await rounds.command(f"/session vote #{bob_piece}", user="bob")
    assert late.text == "No round is open: there is nothing to vote on." and late.private


async def test_a_vote_can_move_but_not_repeat_and_proposals_are_one_each(
    rounds: Workshop,
) -> None:
    await open_image_round(rounds)
    one = (await rounds.say("with gulls", user="bob")).ballot[0]
    two = (await rounds.say("in fog", user="cy")).ballot[0]
    again = await rounds.say("and another idea", user="bob")
    assert again.text.startswith(f"You proposed #{one} in round 1 already") and not again.stored
    await rounds.command(f"/session vote #{one}", user="ada")
    moved = await rounds.command(f"/session vote #{two}", user="ada")
    twice = await rounds.command(f"/session vote #{two}", user="ada")
    stranger = await rounds.command("/session vote #999", user="ada")
    assert moved.text == f"Your vote moved from #{one} to #{two}."
    assert twice.text.startswith(f"You already voted for #{two}")
    assert stranger.text.startswith("#999 is not a candidate in round 1")
    async with rounds.sessions() as session:
        votes = (await session.execute(select(RoundVote))).scalars().all()
    assert [(v.artifact_id) for v in votes] == [two]


async def test_only_the_host_opens_and_closes_rounds(rounds: Workshop) -> None:
    await open_image_round(rounds)
    refused = await rounds.command("/session round a second round", user="bob")
    closing = await rounds.command("/session close", user="cy")
    assert refused.text == "Only the host can open a round." and refused.private
    assert closing.text == "Only the host can close a round." and closing.private
    closed = await rounds.command("/session close")
    assert closed.text == "Round 1 closed with no candidates."


async def test_the_bot_makes_candidates_for_the_asker_who_may_vote_for_them(
    rounds: Workshop,
) -> None:
    await open_image_round(rounds)
    made = await rounds.command("/session candidates 2", user="bob")
    assert len(made.ballot) == 2 and len(set(made.ballot)) == 2
    pixels = {a.media_sha256 for a in await rounds.artifacts()}
    assert len(pixels) == 2  # two seeds, two different pictures
    vote = await rounds.command(f"/session vote #{made.ballot[0]}", user="bob")
    assert vote.text == f"Your vote for #{made.ballot[0]} is in."


async def test_a_restart_keeps_the_votes_and_the_deadline_closes_the_round(
    rounds: Workshop, make_studio: MakeWorkshop
) -> None:
    await open_image_round(rounds, "minutes=30")
    bob_piece = (await rounds.say("with gulls", user="bob")).ballot[0]
    await rounds.command(f"/session vote #{bob_piece}", user="cy")
    restarted = make_studio([VERSE, SKETCH])
    status = await restarted.command("/session status", user="cy")
    assert "Round 1 (image: “a lighthouse at dusk”, closes" in status.text
    assert "1 candidates, 1 votes." in status.text
    async with rounds.sessions() as session, session.begin():
        late = utcnow() - timedelta(seconds=1)
        await session.execute(update(SessionRound).values(closes_at=late))
    announced = Announcements()
    restarted.agent.announce_with("test", announced)
    _, reply = await announced.first()
    assert reply.text == (
        f"Time is up. Round 1 closed. Winner: #{bob_piece}. Tally: #{bob_piece} 1 vote."
    )
    assert [a.number for a in reply.artifacts] == [bob_piece]
    await restarted.agent.close()


async def test_forget_takes_a_members_votes_and_unshared_candidates_with_them(
    rounds: Workshop,
) -> None:
    await open_image_round(rounds)
    bob_piece = (await rounds.say("with gulls", user="bob")).ballot[0]
    await rounds.command(f"/session vote #{bob_piece}", user="cy")
    await rounds.command("/forget yes", user="cy")
    after_cy = await rounds.command("/session status")
    assert "1 candidates, 0 votes." in after_cy.text
    await rounds.command("/forget yes", user="bob")
    after_bob = await rounds.command("/session status")
    assert "0 candidates, 0 votes." in after_bob.text and "Bob" not in after_bob.text


async def test_a_session_past_its_end_time_ends_with_its_finale_after_a_restart(
    rounds: Workshop, make_studio: MakeWorkshop
) -> None:
    await open_image_round(rounds)
    await rounds.command("/session end", user="bob")  # refused: not the host
    bob_piece = (await rounds.say("with gulls", user="bob")).ballot[0]
    async with rounds.sessions() as session, session.begin():
        await session.execute(update(GroupSession).values(ends_at=utcnow()))
    restarted = make_studio([VERSE, SKETCH])
    announced = Announcements()
    restarted.agent.announce_with("test", announced)
    _, reply = await announced.first()
    assert reply.text.startswith("The session's time is up.\nRound 1 closed. Winner: #")
    assert f"Round 1 winner: #{bob_piece} by Bob" in reply.text and reply.session_ended
    assert reply.download is not None  # the finale comes with the export
    assert (await rounds.command("/session status")).text.startswith("There is no session here")
    await restarted.agent.close()


async def test_a_jury_critiques_each_candidate_as_it_is_posted(make_studio: MakeWorkshop) -> None:
    jury = make_studio([VERSE, SKETCH, JUDGE])
    await open_image_round(jury, "jury=true")
    proposed = await jury.say("with gulls", user="bob")
    number = proposed.ballot[0]
    assert f"Jury on #{number}: a fine image (#{number})" in proposed.text
    assert [a.kind for a in proposed.artifacts] == ["image", "critique"]
    critique = (await jury.artifacts())[-1]
    assert critique.parent_id == number and critique.kind == "critique"
    assert proposed.ballot == (number,)  # the critique is not up for a vote


async def test_a_count_that_is_not_plain_digits_is_asked_again(rounds: Workshop) -> None:
    await open_image_round(rounds)
    for count in ("²", "two", "99"):
        asked = await rounds.command(f"/session candidates {count}", user="bob")
        assert asked.text in ("How many? /session candidates 2", "Ask for 1 to 4 candidates.")
    assert await rounds.artifacts() == []
