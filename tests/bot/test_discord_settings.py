"""/settings end to end: the real discord.py client against the fake, a real Agent behind it.

A server ("studio": #general, #gallery and the age-restricted #after-dark) and a second one;
Ada has Discord's Manage Server permission there, Bob does not. What is checked is what each
would see: answers only they see, silence where the server's admins said so, refusals of
pieces and presses, and what the database kept of each change.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import func, select

from agent.policy.commands import ADMINS_ONLY
from agent.policy.models import PolicyChange, ServerPolicy
from agent.policy.rules import BLOCKED, ELSEWHERE
from tests.bot import test_discord_commands as commands_tests
from tests.bot.test_discord_commands import Scene, Stage
from tests.support.fake_discord import FakeDiscord, InteractionLog, Payload, SentMessage
from tools.image.safety import EXPLICIT_REFUSAL
from tools.image.tool import IMAGE_TOOL
from tools.models.registry import ModelRegistry

MANAGE_SERVER = 1 << 5
stage = commands_tests.stage


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    fake = FakeDiscord(heartbeat_interval_ms=500)
    fake.add_guild("studio", ("general", "gallery", "after-dark"), age_restricted=("after-dark",))
    fake.add_guild("elsewhere")
    await fake.start()
    yield fake
    await fake.close()


def channel(scene: Scene, name: str) -> Payload:
    return next(c for c in scene.fake.channels.values() if c["name"] == name)


async def settings(scene: Scene, user: Payload, sub: str, **options: Any) -> InteractionLog:
    """`user` runs /settings <sub> in #general and the bot has answered."""
    return await scene.answered(await scene.slash(user, f"settings {sub}", **options), 0)


async def slash_in(
    scene: Scene, user: Payload, where: Payload, name: str, followups: int = 1, **options: Any
) -> InteractionLog:
    """`user` runs /name in the channel `where`; answered with `followups` (0: refused)."""
    log = await scene.fake.slash(
        user, name, channel_id=where["id"], guild_id=where["guild_id"], **options
    )
    return await scene.answered(log, followups)


async def mention(scene: Scene, user: Payload, where: Payload, text: str) -> Payload:
    fake = scene.fake
    message = fake.message(
        user,
        f"<@{fake.bot_user['id']}> {text}",
        channel_id=where["id"],
        guild_id=where["guild_id"],
        mentions=(fake.bot_user,),
    )
    await fake.send_message(message)
    return message


async def answer_to(scene: Scene, message: Payload) -> SentMessage:
    def answers() -> list[SentMessage]:
        return [m for m in scene.fake.sent if m.replies_to == message["id"]]

    await scene.fake.wait_for(lambda: bool(answers()), timeout=20)
    return answers()[0]


def answered(scene: Scene, message: Payload) -> bool:
    return any(m.replies_to == message["id"] for m in scene.fake.sent)


async def stored(scene: Scene) -> tuple[int, list[PolicyChange]]:
    async with scene.studio.sessions() as session:
        rows = await session.scalar(select(func.count()).select_from(ServerPolicy))
        changes = await session.scalars(select(PolicyChange).order_by(PolicyChange.id))
        return int(rows or 0), list(changes)


async def test_settings_is_a_server_command_offered_to_managers(stage: Stage) -> None:
    async with stage() as scene:
        registered = scene.fake.commands["settings"]
    subcommands = {option["name"] for option in registered["options"]}
    assert subcommands == {
        *("show", "history", "channels", "buttons", "blocklist", "nsfw", "block", "unblock")
    }
    assert int(registered["default_member_permissions"]) == MANAGE_SERVER
    assert registered.get("contexts") == [0] or registered.get("dm_permission") is False


async def test_a_member_without_manage_server_is_refused_privately(stage: Stage) -> None:
    async with stage() as scene:
        gallery = channel(scene, "gallery")
        log = await settings(scene, scene.bob, "channels", change="add", channel=gallery)
        block = await settings(scene, scene.bob, "block", member=scene.ada)
        rows, changes = await stored(scene)
        # Atelier still answers Bob in #general: nothing changed.
        still = await answer_to(
            scene, await mention(scene, scene.bob, channel(scene, "general"), "hi")
        )

    assert log.private and log.said == ADMINS_ONLY and block.said == ADMINS_ONLY
    assert (rows, changes) == (0, []) and still.content


async def test_an_admin_lists_the_channels_and_atelier_is_silent_elsewhere(stage: Stage) -> None:
    async with stage() as scene:
        scene.fake.grant(scene.ada, MANAGE_SERVER)
        general, gallery = channel(scene, "general"), channel(scene, "gallery")
        changed = await settings(scene, scene.ada, "channels", change="add", channel=gallery)
        ignored = await mention(scene, scene.bob, general, "hello?")
        heard = await mention(scene, scene.bob, gallery, "hello!")
        answer = await answer_to(scene, heard)
        refused = await slash_in(scene, scene.bob, general, "poem", prompt="rain")
        made = await slash_in(scene, scene.bob, gallery, "poem", prompt="rain")
        shown = await settings(scene, scene.ada, "show")
        rows, [change] = await stored(scene)

    assert changed.private and changed.said == f"Changed. Answers in: <#{gallery['id']}>."
    assert (change.setting, change.old, change.new) == ("channels", [], [gallery["id"]])
    assert (change.actor_id, change.actor_name) == (scene.ada["id"], "Ada")
    assert answer.content and not answered(scene, ignored)
    assert general["id"] not in scene.fake.typing  # not even "typing..." where it is silent
    assert refused.private and refused.said == ELSEWHERE and not refused.followups
    assert made.followups and not made.private
    assert shown.private and f"- Answers in: <#{gallery['id']}>" in shown.said
    assert "Last change:" in shown.said and f"Ada (<@{scene.ada['id']}>)" in shown.said


async def test_a_blocked_member_is_ignored_in_that_server(stage: Stage) -> None:
    async with stage() as scene:
        scene.fake.grant(scene.ada, MANAGE_SERVER)
        general = channel(scene, "general")
        await settings(scene, scene.ada, "block", member=scene.bob)
        ignored = await mention(scene, scene.bob, general, "hello?")
        refused = await slash_in(scene, scene.bob, general, "image", prompt="a harbour")
        ada = await answer_to(scene, await mention(scene, scene.ada, general, "hello"))
        _, [change] = await stored(scene)
        history = await settings(scene, scene.ada, "history")

    assert refused.private and refused.said == BLOCKED and await scene.artifacts() == []
    assert ada.content and not answered(scene, ignored)
    assert (change.setting, change.old, change.new) == ("blocked_users", [], [scene.bob["id"]])
    assert history.said.splitlines()[1].endswith(f"blocked_users: nobody → <@{scene.bob['id']}>")


async def test_a_word_on_the_servers_blocklist_refuses_there_not_in_another_server(
    stage: Stage,
) -> None:
    async with stage() as scene:
        scene.fake.grant(scene.ada, MANAGE_SERVER)
        await settings(scene, scene.ada, "blocklist", change="add", words="dragon, wyvern")
        here = await scene.answered(await scene.slash(scene.bob, "image", prompt="a red Dragon"), 0)
        elsewhere = scene.fake.channels[scene.fake.guilds[1].channel_ids[0]]
        there = await slash_in(scene, scene.bob, elsewhere, "image", prompt="a red Dragon")
        [made] = await scene.artifacts()

    assert (
        here.said
        == "I can't make that here: “dragon” is on this server's blocklist. Nothing was stored."
    )
    assert not here.followups and there.followups and made.prompt.endswith("a red Dragon")


async def test_buttons_follow_the_servers_choice_over_the_operators(stage: Stage) -> None:
    async with stage(discord_buttons_for_everyone=True) as scene:
        scene.fake.grant(scene.ada, MANAGE_SERVER)
        await settings(scene, scene.ada, "buttons", who="requester")
        made = await scene.answered(await scene.slash(scene.ada, "image", prompt="a harbour"))
        [under] = made.followups
        refused = await scene.answered(await scene.click(scene.bob, under, "vary"))
        await settings(scene, scene.ada, "buttons", who="everyone")
        varied = await scene.answered(await scene.click(scene.bob, under, "vary"))
        pieces = await scene.artifacts()

    assert (
        refused.private and refused.said == "Only the person who asked for #1 can use its buttons."
    )
    assert varied.followups and len(pieces) == 2 and pieces[1].parent_id == pieces[0].id


async def test_explicit_images_only_where_the_server_allows_them(
    stage: Stage, tiny_models: ModelRegistry
) -> None:
    async with stage([IMAGE_TOOL], models=tiny_models) as scene:
        scene.fake.grant(scene.ada, MANAGE_SERVER)
        general, after_dark = channel(scene, "general"), channel(scene, "after-dark")
        asked = {"prompt": "a nude figure study", "seed": 1}
        strict = await slash_in(scene, scene.bob, general, "image", 0, **asked)
        not_yet = await slash_in(scene, scene.bob, after_dark, "image", 0, **asked)
        allowed = await settings(scene, scene.ada, "nsfw", allow=True)
        made = await slash_in(scene, scene.bob, after_dark, "image", **asked)
        still = await slash_in(scene, scene.bob, general, "image", 0, **asked)
        pieces = await scene.artifacts()

    assert strict.said == not_yet.said == still.said == EXPLICIT_REFUSAL
    assert allowed.said == "Changed. Unfiltered images in age-restricted channels: allowed."
    assert made.followups and len(pieces) == 1


async def test_words_that_look_like_settings_change_nothing(stage: Stage) -> None:
    async with stage() as scene:
        scene.fake.grant(scene.ada, MANAGE_SERVER)
        poem = await scene.answered(
            await scene.slash(scene.ada, "poem", prompt="/settings channels add")
        )
        words = await mention(
            scene, scene.ada, channel(scene, "general"), "/settings block everyone"
        )
        await answer_to(scene, words)
        rows, changes = await stored(scene)
        [piece] = await scene.artifacts()

    assert poem.followups and piece.kind == "poem" and "/settings channels add" in piece.text
    assert (rows, changes) == (0, [])
