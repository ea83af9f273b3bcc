"""Relay sessions: members add lines in join order, each judged against the form, each line
credited to its author; turns pass on, are skipped, and time out, also across a restart."""

from __future__ import annotations

import asyncio
import json
import zipfile
from datetime import timedelta
from typing import Literal

import pytest
from pydantic import Field
from sqlalchemy import select, update

from agent.store.db import GroupSession, User, utcnow
from tests.support.announcements import Announcements
from tests.support.studio_tools import SKETCH, VERSE
from tests.support.workshop import MakeWorkshop, Workshop
from tools.contract import ArtifactDraft, ArtifactKind, Tool, ToolArgs, ToolContext


@pytest.fixture
def relay(make_studio: MakeWorkshop) -> Workshop:
    return make_studio([VERSE, SKETCH])


async def start_three(group: Workshop, options: str = "form=haiku") -> None:
    await group.command(f"/session start mode=relay {options} the sea at dawn")
    await group.command("/session join", user="bob")
    await group.command("/session join", user="cy")


async def turn_of(group: Workshop) -> str | None:
    async with group.sessions() as session:
        query = select(User.display_name).join(GroupSession, GroupSession.turn_user_id == User.id)
        return (await session.execute(query)).scalar_one_or_none()


async def test_a_three_turn_haiku_credits_each_line_to_its_author(relay: Workshop) -> None:
    await start_three(relay)
    first = await relay.say("an old silent pond", user="ada")
    second = await relay.say("a frog jumps into the pond", user="bob")
    third = await relay.say("splash! silence again", user="cy")
    assert first.text.startswith("Line 1 by Ada is in (haiku ✓). Next: Bob.")
    assert second.text.startswith("Line 2 by Bob is in (haiku ✓). Next: Cy.")
    assert third.text.startswith("Line 3 by Cy is in (haiku ✓). The next poem begins with Ada.")
    assert "The poem is complete" in third.text
    assert "an old silent pond  — Ada\na frog jumps into the pond  — Bob" in third.text
    assert "splash! silence again  — Cy" in third.text
    newest = (await relay.artifacts())[-1]
    assert newest.text == "an old silent pond\na frog jumps into the pond\nsplash! silence again"
    assert [a.version for a in await relay.artifacts()] == [1, 2, 3]
    ended = await relay.command("/session end")
    assert "Relay poem 1:\nan old silent pond  — Ada" in ended.text
    assert "Bob: 1 version, 1 line" in ended.text and ended.session_ended


async def test_a_line_that_misses_the_form_is_kept_and_told(relay: Workshop) -> None:
    await start_three(relay)
    await relay.say("an old silent pond", user="ada")
    missed = await relay.say("a frog jumps", user="bob")
    assert "Line 2 by Bob is in (haiku: line 2 has 3 syllables, wanted 7)" in missed.text
    assert (await relay.artifacts())[-1].text == "an old silent pond\na frog jumps"
    assert await turn_of(relay) == "Cy"


async def test_out_of_turn_and_too_long_lines_are_refused_and_nothing_is_stored(
    relay: Workshop,
) -> None:
    await start_three(relay)
    early = await relay.say("a line before my turn", user="bob")
    long = await relay.say("one\ntwo\nthree\nfour", user="ada")
    assert early.text == "It is Ada's turn; your line comes when it is yours."
    assert early.private and not early.stored
    assert long.text.startswith("That is 4 lines; the haiku has room for 3 more lines.")
    assert await relay.artifacts() == [] and await relay.messages() == []
    assert await turn_of(relay) == "Ada"


async def test_hidden_shows_only_the_line_to_follow(relay: Workshop) -> None:
    await start_three(relay, "form=haiku hidden=true")
    await relay.say("an old silent pond", user="ada")
    second = await relay.say("a frog jumps into the pond", user="bob")
    assert "The line to follow: “a frog jumps into the pond”" in second.text
    assert "an old silent pond" not in second.text and second.artifacts == ()


async def test_a_chinese_relay_counts_characters_and_takes_a_couplet(relay: Workshop) -> None:
    await start_three(relay, "form=五言绝句")
    couplet = await relay.say("床前明月光，疑是地上霜。", user="ada")
    assert couplet.text.startswith("Lines 1-2 by Ada are in (五言绝句 ✓). Next: Bob.")
    short = await relay.say("举头望月", user="bob")
    assert "line 3 has 4 characters, wanted 5" in short.text


async def test_pass_skip_and_leaving_move_the_turn_on(relay: Workshop) -> None:
    await start_three(relay)
    passed = await relay.command("/session pass", user="ada")
    refused = await relay.command("/session skip", user="cy")
    skipped = await relay.command("/session skip", user="ada")
    assert passed.text == "Ada passed. It is Bob's turn."
    assert refused.text == "Only the host can skip a turn." and refused.private
    assert skipped.text == "Bob was skipped. It is Cy's turn."
    left = await relay.command("/session leave", user="cy")
    assert left.text == "Cy left the session. It is Ada's turn."
    assert (await relay.command("/session pass", user="bob")).text == "It is Ada's turn, not yours."


async def test_a_turn_past_its_limit_passes_on_after_a_restart(
    relay: Workshop, make_studio: MakeWorkshop
) -> None:
    await start_three(relay, "form=haiku turn_minutes=5")
    async with relay.sessions() as session, session.begin():
        late = utcnow() - timedelta(seconds=1)
        await session.execute(update(GroupSession).values(turn_due_at=late))
    restarted = make_studio([VERSE, SKETCH])  # a new agent on the same database
    announced = Announcements()
    restarted.agent.announce_with("test", announced)
    place, reply = await announced.first()
    assert reply.text == "Ada's turn ran out. It is Bob's turn now."
    assert place.channel_id == "c1"
    assert await turn_of(relay) == "Bob"
    async with relay.sessions() as session:
        due = (await session.execute(select(GroupSession.turn_due_at))).scalar_one()
    assert due is not None and due > utcnow() + timedelta(minutes=4)  # Bob's own five minutes
    await restarted.agent.close()


async def test_forget_by_the_member_whose_turn_it_is_passes_the_turn(relay: Workshop) -> None:
    await start_three(relay)
    await relay.say("an old silent pond", user="ada")
    await relay.command("/forget yes", user="bob")
    assert await turn_of(relay) == "Cy"
    third = await relay.say("a frog jumps into the pond", user="cy")
    assert third.text.startswith("Line 2 by Cy is in (haiku ✓). Next: Ada.")


async def test_a_line_sent_as_a_command_in_a_hidden_relay_is_the_askers_alone(
    relay: Workshop,
) -> None:
    await start_three(relay, "form=haiku hidden=true")
    sent = await relay.command("/session line an old silent pond", user="ada")
    assert sent.text.startswith("Line 1 by Ada is in (haiku ✓). Next: Bob.") and sent.private
    assert (await relay.artifacts())[-1].text == "an old silent pond"
    out_of_turn = await relay.command("/session line me too", user="cy")
    assert out_of_turn.text == "It is Bob's turn; your line comes when it is yours."


async def test_the_finale_and_session_export_come_with_the_zip(relay: Workshop) -> None:
    await start_three(relay)
    await relay.say("an old silent pond", user="ada")
    await relay.command("/sketch a pond at dawn", user="bob")
    outsider = await relay.command("/session export", user="dan")
    assert outsider.download is None and outsider.private
    exported = await relay.command("/session export", user="cy")
    assert exported.download is not None and exported.download.filename.endswith(".zip")
    with zipfile.ZipFile(exported.download.path) as archive:
        names = set(archive.namelist())
        document = json.loads(archive.read("session.json"))
    assert {"session.json", "index.html"} <= names
    assert [line["author"] for line in document["relay"][0]["lines"]] == ["Ada"]
    ended = await relay.command("/session end")
    assert ended.session_ended and ended.download is not None


async def test_a_paused_relay_keeps_its_turn_until_the_host_resumes(
    relay: Workshop, make_studio: MakeWorkshop
) -> None:
    await start_three(relay, "form=haiku turn_minutes=5")
    await relay.command("/session pause")
    async with relay.sessions() as session, session.begin():
        await session.execute(update(GroupSession).values(turn_due_at=utcnow()))
    announced = Announcements()
    relay.agent.announce_with("test", announced)
    await asyncio.sleep(0.2)  # a deadline that fired now would be announced by now
    assert announced.said == [] and await turn_of(relay) == "Ada"
    await relay.command("/session resume")
    _, reply = await announced.first()
    assert reply.text == "Ada's turn ran out. It is Bob's turn now."
    await relay.agent.close()


class TuneArgs(ToolArgs):
    mode: Literal["new", "poem"] = Field("new", description="new, or set the poem in focus")
    prompt: str = Field("", description="what to play")


def set_to_music(args: TuneArgs, context: ToolContext) -> ArtifactDraft:
    assert context.focus is not None and args.mode == "poem"
    opening = (context.focus.text or "").splitlines()[0]
    return ArtifactDraft(ArtifactKind.MUSIC, text=f"a tune for “{opening}”", from_focus=True)


TUNE = Tool(
    "tune",
    "Set a poem to music.",
    ArtifactKind.MUSIC,
    TuneArgs,
    set_to_music,
    from_poem={"mode": "poem"},
)


async def test_the_host_ends_with_a_closing_piece_made_from_the_final_poem(
    make_studio: MakeWorkshop,
) -> None:
    relay = make_studio([VERSE, TUNE])
    await start_three(relay)
    for person, line in (("ada", "an old silent pond"), ("bob", "a frog jumps into the pond")):
        await relay.say(line, user=person)
    refused = await relay.command("/session end closing=music", user="bob")
    assert refused.text == "Only the host can end the session." and refused.private
    ended = await relay.command("/session end closing=music")
    assert ended.text.startswith("a tune for “an old silent pond”")
    assert "The session on “the sea at dawn” has ended." in ended.text and ended.session_ended
    *_, poem, tune = await relay.artifacts()
    assert (poem.kind, tune.kind) == ("poem", "music") and tune.parent_id == poem.id
    assert ended.artifacts[0].number == tune.id  # shown with the finale
