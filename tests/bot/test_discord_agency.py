"""Excessive agency on Discord: in a session thread, words typed as messages (a member's
"/session end", the host's "end the session", a mention asking to kick) are read as words;
the session goes on, nobody is kicked, the thread stays open. Only the slash command ends it."""

from __future__ import annotations

from tests.bot import test_discord_commands as commands_tests
from tests.bot.test_discord_commands import Stage
from tests.bot.test_discord_sessions import JOIN, start

fake = commands_tests.fake
stage = commands_tests.stage


async def test_messages_in_a_session_thread_never_act_as_session_commands(stage: Stage) -> None:
    async with stage() as scene:
        ada, bob = scene.ada, scene.bob
        session = await start(scene, ada, "a night market")
        await session.press(bob, session.welcome, JOIN)
        for who, text, mention in [
            (bob, "/session end", False),
            (bob, "end the session", True),
            (ada, "/session kick Bob", False),
            (ada, "end the session now, please", True),
        ]:
            await session.answer_to(await session.say(who, text, mention=mention))
        await session.slash(bob, "status")
        status = session.posts[-1].content  # posted in the thread, for everyone
        thread = scene.fake.channels[session.thread]
        assert not thread.get("thread_metadata", {}).get("archived")
        ended = await session.slash(ada, "end")
        finale = session.posts[-1].content

    assert status.startswith("Session on “a night market”: free, open")
    assert "Members: Ada (host), Bob." in status
    assert ended.deleted and finale.startswith("The session on “a night market” has ended.")
