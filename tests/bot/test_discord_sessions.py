"""Group sessions on Discord end to end: the real discord.py client against the fake.

The bot runs a real Agent (the stand-in tools and the tiny chat model of
test_discord_commands.py, whose `stage` fixture this shares); the test plays the people, with
/session commands, the session's buttons and messages typed in its thread, and checks what
they would see: the thread and its pinned welcome, who sees which answer, the pieces and votes
posted in the thread, and the thread archived when the session ends.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import update

from agent.making.decisions import Decision
from agent.sessions.commands import ACTIONS, HOST_ACTIONS
from agent.store.db import GroupSession, utcnow
from agent.types import Download, Place, Reply
from bot.discord.render import render_reply
from bot.discord.session_turns import thread_name
from bot.discord.sessions import ACTIONS as SUBCOMMANDS
from tests.bot import test_discord_commands as commands_tests
from tests.bot.test_discord_commands import MESSAGE, PictureArgs, Scene, Stage
from tests.support.fake_discord import InteractionLog, Payload, SentMessage
from tests.support.studio_tools import ScriptedRouter
from tools.units import MIB

# The fake Discord and the bot over a Workshop, as the slash command tests run them.
fake = commands_tests.fake
stage = commands_tests.stage

JOIN, LEAVE = "atelier:session:join", "atelier:session:leave"
LANTERN = ScriptedRouter({"draw a lantern": Decision("image", PictureArgs(prompt="a lantern"))})


class Session:
    """A scene's people in one session: what they do, and what they see in its thread."""

    def __init__(self, scene: Scene, started: InteractionLog) -> None:
        self.scene = scene
        self.fake = scene.fake
        opened = self.fake.threads_in(scene.channel)[-1]  # the newest: this session's
        self.thread: str = opened["id"]
        self.started = started

    @property
    def posts(self) -> list[SentMessage]:
        return self.fake.sent_in(self.thread)

    @property
    def welcome(self) -> SentMessage:
        return self.posts[0]

    async def slash(self, user: Payload, name: str, **options: Any) -> InteractionLog:
        """`user` runs /session <name> in the thread, and the bot has answered."""
        log = await self.fake.slash(
            user, f"session {name}", channel_id=self.thread, guild_id=self.scene.guild, **options
        )
        return await settled(self.scene, log)

    async def press(self, user: Payload, message: SentMessage, custom_id: str) -> InteractionLog:
        log = await self.fake.click(user, message, custom_id, guild_id=self.scene.guild)
        return await settled(self.scene, log)

    async def say(self, user: Payload, text: str, *, mention: bool = False) -> Payload:
        """`user` types `text` in the thread (no mention unless asked)."""
        return await say(self.scene, user, text, channel_id=self.thread, mention=mention)

    async def answer_to(self, message: Payload) -> SentMessage:
        return await answer_to(self.scene, message)


async def settled(scene: Scene, log: InteractionLog) -> InteractionLog:
    """Wait until the bot has answered: its "thinking..." replaced by a line for the person
    alone, or deleted once the answer was posted for everyone."""

    def done(log: InteractionLog) -> bool:
        if log.callbacks and log.callbacks[0].type == MESSAGE:
            return True
        return log.deleted or any(not edit.content.startswith("⏳") for edit in log.edits)

    return await scene.fake.wait_for_interaction(log, done, timeout=20)


async def say(
    scene: Scene, user: Payload, text: str, *, channel_id: str, mention: bool = False
) -> Payload:
    fake = scene.fake
    content = f"<@{fake.bot_user['id']}> {text}" if mention else text
    mentions = (fake.bot_user,) if mention else ()
    message = fake.message(
        user, content, channel_id=channel_id, guild_id=scene.guild, mentions=mentions
    )
    await fake.send_message(message)
    return message


async def answer_to(scene: Scene, message: Payload) -> SentMessage:
    """The bot's answer to a person's message (a reply to it), once it is sent."""

    def answers() -> list[SentMessage]:
        return [m for m in scene.fake.sent if m.replies_to == message["id"]]

    await scene.fake.wait_for(lambda: bool(answers()), timeout=20)
    return answers()[0]


async def start(scene: Scene, user: Payload, theme: str, **options: Any) -> Session:
    """`user` runs /session start in the scene's channel; the session, in its new thread."""
    log = await scene.fake.slash(
        user,
        "session start",
        channel_id=scene.channel,
        guild_id=scene.guild,
        theme=theme,
        **options,
    )
    await settled(scene, log)
    return Session(scene, log)


async def test_session_start_opens_a_thread_people_join_and_talk_in(stage: Stage) -> None:
    async with stage(router=LANTERN) as scene:
        ada, bob = scene.ada, scene.bob
        cy = scene.fake.user("cy")
        session = await start(scene, ada, "a night market")
        [thread] = scene.fake.threads_in(scene.channel)
        welcome = session.welcome

        # The asker alone is told where the session is; everyone sees the pinned welcome.
        assert session.started.private and not session.started.followups
        where = f"<#{thread['id']}>"
        assert session.started.said == f"The session is on in {where}; its welcome is pinned there."
        assert (thread["name"], thread["type"]) == ("a night market", 11)
        assert welcome.content.startswith("A session on “a night market” has started, hosted")
        assert welcome.buttons == {JOIN: "Join", LEAVE: "Leave"} and welcome.pings_nobody
        assert scene.fake.pins[session.thread] == [welcome.id]

        # Two people join with the button; each welcome is for everyone, in the thread.
        for person in (bob, cy):
            joined = await session.press(person, welcome, JOIN)
            assert joined.private and joined.deleted  # their "thinking..." went
        said = [post.content for post in session.posts[1:]]
        assert said == [
            "Welcome, Bob: you are in the session on “a night market”.",
            "Welcome, Cy: you are in the session on “a night market”.",
        ]
        again = await session.press(bob, welcome, JOIN)
        assert again.private and not again.deleted
        assert again.said == "You are already in the session on “a night market”."
        assert len(session.posts) == 3  # nothing for the others to see

        # In the thread the bot reads every message: no mention needed.
        asked = await session.say(bob, "draw a lantern")
        drawn = await session.answer_to(asked)
        assert drawn.channel_id == session.thread and drawn.files
        assert drawn.content == "#1 image" and "Variation" in drawn.buttons.values()

        # In the parent channel, a message that does not mention the bot is still not for it.
        ignored = await say(scene, ada, "anyone around?", channel_id=scene.channel)
        mentioned = await say(scene, ada, "hello", channel_id=scene.channel, mention=True)
        await answer_to(scene, mentioned)
        assert not [m for m in scene.fake.sent if m.replies_to == ignored["id"]]
        assert [m.channel_id for m in scene.fake.sent_in(scene.channel)] == [scene.channel]

        # A member using a host control is refused, and only they see it.
        before = len(session.posts)
        refused = await session.slash(bob, "pause")
        assert refused.private and refused.said == "Only the host can pause the session."
        kicked = await session.slash(ada, "kick", member=cy)  # sent as Cy's Discord id
        assert kicked.deleted and session.posts[-1].content == "Cy is no longer in the session."
        assert len(session.posts) == before + 1

        # The host ends it: the finale with the export, then the thread is archived.
        ended = await session.slash(ada, "end")
        finale = session.posts[-1]
        assert ended.deleted
        assert finale.content.startswith("The session on “a night market” has ended.")
        assert [file.filename for file in finale.files] == ["session-1.zip"]
        assert finale.files[0].data.startswith(b"PK")
        assert scene.fake.channels[session.thread]["thread_metadata"]["archived"]

        # The thread is quiet now: only a mention is answered there.
        after = await session.say(bob, "draw a lantern")
        hello = await session.say(bob, "are you there?", mention=True)
        await session.answer_to(hello)
        assert not [m for m in scene.fake.sent if m.replies_to == after["id"]]


async def test_a_refused_start_leaves_no_thread_behind(stage: Stage) -> None:
    async with stage() as scene:
        session = await start(scene, scene.ada, "tide pools")
        inside = await session.slash(scene.bob, "start", theme="another")
        blank = await start_refused(scene, scene.ada, "   ")

    assert inside.private and inside.said.startswith("A session on “tide pools” is already on")
    assert blank.private and blank.said.startswith("/session start: ")
    # The second try opened a thread for its session and deleted it once refused.
    assert [t["id"] for t in scene.fake.threads_in(scene.channel)] == [session.thread]
    assert len(scene.fake.deleted_channels) == 1
    assert len(session.posts) == 1  # the first session's welcome alone


async def start_refused(scene: Scene, user: Payload, theme: str) -> InteractionLog:
    log = await scene.fake.slash(
        user, "session start", channel_id=scene.channel, guild_id=scene.guild, theme=theme
    )
    return await settled(scene, log)


async def test_candidates_get_vote_buttons_that_work_after_a_restart(stage: Stage) -> None:
    async with stage() as scene:
        ada, bob = scene.ada, scene.bob
        session = await start(scene, ada, "lanterns", mode="rounds")
        await session.press(bob, session.welcome, JOIN)
        opened = await session.slash(ada, "round", prompt="a paper lantern", kind="image")
        assert opened.deleted and session.posts[-1].content.startswith("Round 1 is open")

        proposal = await session.say(bob, "a red lantern at dusk")
        candidate = await session.answer_to(proposal)
        assert candidate.files and candidate.buttons["atelier:vote:1"] == "Vote #1"

        await scene.restart()  # the Vote button is answered from its custom id
        own = await session.press(bob, candidate, "atelier:vote:1")
        voted = await session.press(ada, candidate, "atelier:vote:1")
        closed = await session.slash(ada, "close")

    assert own.private and own.said == "That is your own candidate: vote for someone else's."
    assert voted.private and voted.said == "Your vote for #1 is in."  # secret until the close
    assert closed.deleted
    assert session.posts[-1].content.startswith("Round 1 closed. Winner: #1. Tally: #1 1 vote.")
    assert session.posts[-1].files  # the winning piece, shown


async def test_the_agent_announces_in_the_thread_and_a_missed_end_is_posted_at_restart(
    stage: Stage,
) -> None:
    async with stage() as scene:
        assert scene.bot is not None
        session = await start(scene, scene.ada, "harbour lights")
        place = Place(scene.channel, scene.guild, session.thread, is_direct=False)
        await scene.bot.poster.announce(place, Reply("Ada's turn ran out. It is Bob's turn."))
        assert session.posts[-1].content == "Ada's turn ran out. It is Bob's turn."
        assert session.posts[-1].buttons == {}

        # The session's end time passes while the bot is down; it is announced on start.
        async with scene.studio.sessions() as db, db.begin():
            await db.execute(update(GroupSession).values(ends_at=utcnow() - timedelta(seconds=1)))
        await scene.restart()
        thread = scene.fake.channels[session.thread]
        await scene.fake.wait_for(lambda: thread["thread_metadata"]["archived"], timeout=20)

    assert session.posts[-1].content.startswith("The session's time is up.\nThe session on")


def test_every_session_action_is_a_subcommand_and_downloads_respect_the_limit(
    tmp_path: Path,
) -> None:
    assert {action.name for action in SUBCOMMANDS} == {*ACTIONS, *HOST_ACTIONS}
    assert thread_name("  a   night\nmarket ") == "a night market"
    assert len(thread_name("x" * 300)) == 100 and thread_name(" ") == "session"

    zipped = tmp_path / "session-1.zip"
    zipped.write_bytes(b"PK" + b"\0" * (2 * MIB))
    reply = Reply("The session so far.", download=Download(zipped, "session-1.zip"))
    [fits] = render_reply(reply, file_limit_bytes=3 * MIB)
    [over] = render_reply(reply, file_limit_bytes=MIB)
    assert [file.filename for file in fits.files] == ["session-1.zip"]
    assert not over.files
    assert over.content == (
        "The session so far.\n(session-1.zip is 2.0 MiB, over the 1.0 MiB upload limit "
        "here, so it is not attached.)"
    )


async def test_a_hidden_relays_line_is_seen_by_its_writer_alone(stage: Stage) -> None:
    async with stage() as scene:
        session = await start(scene, scene.ada, "the sea", mode="relay", hidden=True, form="haiku")
        wrote = await session.slash(scene.ada, "line", line="gulls over grey water")

    assert "The poem is a haiku." in session.welcome.content
    assert wrote.private and not wrote.deleted and wrote.said
    assert len(session.posts) == 1  # the welcome: nothing of the line in the thread
