"""A whole group session on Discord, three people, as they would live it: the real discord.py
client against the fake, over a real Agent; the bot restarted mid-round over a new Agent on
the same database, as a new process would be."""

from __future__ import annotations

import io
import json
import zipfile

from sqlalchemy import select

from agent.store.db import SessionRound
from tests.bot.test_discord_commands import IMAGE, POEM, Scene, Stage
from tests.bot.test_discord_sessions import JOIN, Session, fake, stage, start
from tests.support.fake_discord import SentMessage
from tests.support.workshop import MakeWorkshop

__all__ = ["fake", "stage"]  # the fixtures, shared with the other Discord tests


async def relay_line(session: Session, person: dict[str, str], text: str) -> SentMessage:
    """`person` types their line in the thread, mentioning nobody; the bot's answer."""
    return await session.answer_to(await session.say(person, text))


async def said_to_all(session: Session, person: dict[str, str], action: str) -> str:
    """What the thread was shown after `person` ran /session <action>, posted for everyone."""
    log = await session.slash(person, action)
    assert log.deleted  # its private "thinking..." went once the answer was posted
    return session.posts[-1].content


def export_of(message: SentMessage) -> dict[str, object]:
    [zipped] = [f for f in message.files if f.filename.endswith(".zip")]
    with zipfile.ZipFile(io.BytesIO(zipped.data)) as archive:
        assert "index.html" in archive.namelist()
        return json.loads(archive.read("session.json"))


async def restart_over_a_new_agent(scene: Scene, make_studio: MakeWorkshop) -> None:
    await scene.stop()
    await scene.studio.agent.close()
    scene.studio = make_studio([IMAGE, POEM])  # the same database, nothing kept in memory
    await scene.start()


async def test_three_people_write_a_relay_and_hold_an_image_round(
    stage: Stage, make_studio: MakeWorkshop
) -> None:
    async with stage() as scene:
        ada, bob = scene.ada, scene.bob
        cy = scene.fake.user("cy")

        # A relay haiku: a thread of its own, where nobody needs to mention the bot.
        relay = await start(scene, ada, "the sea at dawn", mode="relay", form="haiku")
        for person in (bob, cy):
            await relay.press(person, relay.welcome, JOIN)
        first = await relay_line(relay, ada, "an old silent pond")
        second = await relay_line(relay, bob, "a frog jumps into the pond")
        third = await relay_line(relay, cy, "splash! silence again")
        refused = await relay.slash(bob, "pause")
        ended = await relay.slash(ada, "end")

        # A rounds session: an image round, with candidates and votes.
        rounds = await start(scene, ada, "the harbour", mode="rounds")
        for person in (bob, cy):
            await rounds.press(person, rounds.welcome, JOIN)
        await rounds.slash(ada, "round", prompt="a lighthouse", kind="image", minutes=30)
        bobs = await rounds.answer_to(await rounds.say(bob, "with gulls circling"))
        cys = await rounds.answer_to(await rounds.say(cy, "under a red moon"))
        [bob_vote] = [c for c in bobs.buttons if c.startswith("atelier:vote:")]
        [cy_vote] = [c for c in cys.buttons if c.startswith("atelier:vote:")]
        cast = await rounds.press(cy, bobs, bob_vote)
        async with scene.studio.sessions() as session:
            deadline = (await session.execute(select(SessionRound.closes_at))).scalar_one()

        await restart_over_a_new_agent(scene, make_studio)
        status = await said_to_all(rounds, bob, "status")
        await rounds.press(bob, cys, cy_vote)
        await rounds.press(ada, bobs, bob_vote)  # the last vote closes the round
        closed = rounds.posts[-1]
        canvas = await said_to_all(rounds, bob, "canvas")
        finale = await rounds.slash(ada, "end")
        async with scene.studio.sessions() as session:
            kept = (await session.execute(select(SessionRound.closes_at))).scalar_one()

    assert first.content.startswith("Line 1 by Ada is in (haiku ✓). Next: Bob.")
    assert second.content.startswith("Line 2 by Bob is in (haiku ✓). Next: Cy.")
    assert "an old silent pond  — Ada\na frog jumps into the pond  — Bob" in third.content
    assert "splash! silence again  — Cy" in third.content
    assert refused.private and refused.said == "Only the host can pause the session."
    assert ended.deleted  # posted for everyone, in the thread:
    relay_finale = relay.posts[-1]
    assert "Relay poem 1:\nan old silent pond  — Ada" in relay_finale.content
    relay_export = export_of(relay_finale)
    assert [line["author"] for line in relay_export["relay"][0]["lines"]] == ["Ada", "Bob", "Cy"]
    assert scene.fake.channels[relay.thread]["thread_metadata"]["archived"]

    bob_piece, cy_piece = (int(c.rsplit(":", 1)[1]) for c in (bob_vote, cy_vote))
    assert bobs.files and cys.files and cast.private
    assert deadline is not None and kept == deadline
    assert (
        "Round 1 (image: “a lighthouse”, closes " in status and "2 candidates, 1 votes." in status
    )
    assert closed.content.startswith(
        f"Ada cast the last vote. Everyone has voted. Round 1 closed. Winner: #{bob_piece}."
    )
    assert f"Tally: #{bob_piece} 2 votes, #{cy_piece} 1 vote." in closed.content
    assert f"Round 1 winner: #{bob_piece} by Bob" in canvas
    assert finale.deleted
    rounds_export = export_of(rounds.posts[-1])
    [round_one] = rounds_export["rounds"]
    assert round_one["winner"] == bob_piece
    assert scene.fake.channels[rounds.thread]["thread_metadata"]["archived"]
