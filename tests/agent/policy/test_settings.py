"""/settings through the agent: only a member the platform says manages the server changes
anything, every change is stored with its audit row, and the policy is what later turns meet
(channels, blocked people, the server's blocklist on images, poems and music)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import func, select

from agent.policy.commands import ADMINS_ONLY, IN_A_SERVER
from agent.policy.models import PolicyChange, ServerPolicy
from agent.policy.rules import BLOCKED, ELSEWHERE
from agent.store.db import Message
from agent.types import Command, Place, Reply, Turn, UserRef
from tests.support.studio_tools import HUM, SKETCH, VERSE
from tests.support.workshop import MakeWorkshop, Workshop

GENERAL = Place(channel_id="c1", guild_id="g1", is_direct=False)
STUDIO = Place(channel_id="c2", guild_id="g1", is_direct=False)
ELSEWHERE_SERVER = Place(channel_id="c9", guild_id="g2", is_direct=False)
ADMIN = UserRef("1001", "Ada", manages_server=True)
MEMBER = UserRef("1002", "Bob")


@pytest.fixture
def studio(make_studio: MakeWorkshop) -> Workshop:
    return make_studio([VERSE, SKETCH, HUM])


async def settings(
    studio: Workshop, action: str, *, by: UserRef = ADMIN, at: Place = GENERAL, **fields: Any
) -> Reply:
    command = Command("settings", {"action": action, **fields})
    return await studio.agent.respond(Turn("discord", by, at, command=command))


async def make(
    studio: Workshop, tool: str, prompt: str, *, by: UserRef = MEMBER, at: Place = GENERAL
) -> Reply:
    command = Command(tool, {"prompt": prompt})
    return await studio.agent.respond(Turn("discord", by, at, command=command))


async def say(studio: Workshop, text: str, *, by: UserRef = MEMBER, at: Place = GENERAL) -> Reply:
    return await studio.agent.respond(Turn("discord", by, at, text=text))


async def audit(studio: Workshop) -> list[PolicyChange]:
    async with studio.sessions() as session:
        return list(
            (await session.execute(select(PolicyChange).order_by(PolicyChange.id))).scalars()
        )


async def policies(studio: Workshop) -> int:
    async with studio.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(ServerPolicy)) or 0)


async def test_a_member_without_manage_server_changes_nothing(studio: Workshop) -> None:
    for action, fields in [
        ("channels", {"change": "add", "channel": "c2"}),
        ("block", {"user": ADMIN.external_id}),
        ("show", {}),
        ("history", {}),
    ]:
        refused = await settings(studio, action, by=MEMBER, **fields)
        assert (refused.text, refused.private, refused.stored) == (ADMINS_ONLY, True, False)
    assert await policies(studio) == 0 and await audit(studio) == []
    # Atelier still answers everyone everywhere in that server.
    assert (await make(studio, "verse", "rain", at=STUDIO)).artifacts


async def test_an_admins_change_is_stored_and_audited_with_old_and_new(studio: Workshop) -> None:
    first = await settings(studio, "channels", change="add", channel="c1")
    second = await settings(studio, "channels", change="add", channel="c2")
    again = await settings(studio, "channels", change="add", channel="c2")

    assert first.private and first.text == "Changed. Answers in: <#c1>."
    assert second.text == "Changed. Answers in: <#c1>, <#c2>."
    assert again.text.startswith("Nothing changed.")  # and nothing audited for it
    [one, two] = await audit(studio)
    assert (one.setting, one.old, one.new) == ("channels", [], ["c1"])
    assert (two.setting, two.old, two.new) == ("channels", ["c1"], ["c1", "c2"])
    assert (two.actor_id, two.actor_name, two.guild_id) == ("1001", "Ada", "g1")
    history = (await settings(studio, "history")).text
    assert history.splitlines()[1].endswith("Ada (<@1001>) · channels: <#c1> → <#c1>, <#c2>")
    shown = (await settings(studio, "show")).text
    assert "- Answers in: <#c1>, <#c2>" in shown and "Last change:" in shown


async def test_show_lists_every_setting(studio: Workshop) -> None:
    await settings(studio, "buttons", who="everyone")
    await settings(studio, "blocklist", change="add", words="Dragons, red  moon")
    await settings(studio, "nsfw", allow=True)
    await settings(studio, "block", user="1002")
    shown = (await settings(studio, "show")).text.splitlines()
    assert shown[1:6] == [
        "- Answers in: every channel",
        "- Buttons under a piece: anyone",
        "- Blocklist (on top of the operator's): “dragons”, “red moon”",
        "- Explicit images: unfiltered images allowed, in age-restricted channels only",
        "- Ignored: <@1002>",
    ]
    assert [change.setting for change in await audit(studio)] == [
        "buttons",
        "blocklist",
        "nsfw",
        "blocked_users",
    ]


async def test_atelier_answers_only_in_the_listed_channels(studio: Workshop) -> None:
    await settings(studio, "channels", change="add", channel="c1")
    outside = await make(studio, "verse", "rain", at=STUDIO)
    said_outside = await say(studio, "hello", at=STUDIO)
    inside = await make(studio, "verse", "rain", at=GENERAL)
    thread = Place(channel_id="c1", guild_id="g1", thread_id="t1", is_direct=False)
    in_its_thread = await make(studio, "verse", "snow", at=thread)
    other_server = await make(studio, "verse", "fog", at=ELSEWHERE_SERVER)

    assert (outside.text, outside.private, outside.artifacts) == (ELSEWHERE, True, ())
    assert said_outside.text == ELSEWHERE
    assert inside.artifacts and in_its_thread.artifacts and other_server.artifacts
    # Nothing of what was refused is in anyone's history.
    async with studio.sessions() as session:
        kept = list((await session.scalars(select(Message.content))).all())
    assert "hello" not in kept
    # An admin can still change the settings from a channel atelier does not answer in.
    cleared = await settings(studio, "channels", change="clear", at=STUDIO)
    assert cleared.text == "Changed. Answers in: every channel."
    assert (await make(studio, "verse", "rain", at=STUDIO)).artifacts


async def test_a_blocked_person_is_refused_in_that_server_only(studio: Workshop) -> None:
    await settings(studio, "block", user=MEMBER.external_id)
    blocked = await make(studio, "verse", "rain")
    assert (blocked.text, blocked.private, blocked.stored) == (BLOCKED, True, False)
    assert (await make(studio, "verse", "rain", at=ELSEWHERE_SERVER)).artifacts
    assert (await make(studio, "verse", "rain", by=ADMIN)).artifacts
    await settings(studio, "unblock", user=MEMBER.external_id)
    assert (await make(studio, "verse", "rain")).artifacts
    assert [(c.old, c.new) for c in await audit(studio)] == [([], ["1002"]), (["1002"], [])]


@pytest.mark.parametrize(
    ("tool", "prompt"),
    [("sketch", "A DRAGON at dusk"), ("verse", "dragon"), ("hum", "the dragon's song")],
)
async def test_a_word_on_the_servers_blocklist_refuses_there_and_not_elsewhere(
    studio: Workshop, tool: str, prompt: str
) -> None:
    await settings(studio, "blocklist", change="add", words="dragon, 龙")
    refused = await make(studio, tool, prompt)
    assert (
        refused.text
        == "I can't make that here: “dragon” is on this server's blocklist. Nothing was stored."
    )
    assert await studio.artifacts() == [] and studio.media_files() == []
    assert (await make(studio, tool, prompt, at=ELSEWHERE_SERVER)).artifacts
    assert (await make(studio, tool, "dragonfly wings")).artifacts  # whole words only
    assert "“龙”" in (await make(studio, tool, "一条龙")).text  # no word edges in Chinese


async def test_text_that_looks_like_settings_changes_nothing(studio: Workshop) -> None:
    poem = await make(studio, "verse", "/settings channels add", by=ADMIN)
    words = await say(studio, "/settings block 1002", by=ADMIN)
    assert poem.artifacts and poem.artifacts[0].line.startswith("#")
    assert words.stored and not words.private
    assert await policies(studio) == 0 and await audit(studio) == []


async def test_settings_outside_a_server_and_bad_fields_are_one_line(studio: Workshop) -> None:
    dm = Place(channel_id="d1", is_direct=True)
    assert (await settings(studio, "show", at=dm)).text == IN_A_SERVER
    missing = await settings(studio, "channels", change="add")
    wrong = await settings(studio, "buttons", who="nobody")
    long = await settings(studio, "blocklist", change="add", words="x" * 51)
    unknown = await settings(studio, "everything")
    assert missing.text == "/settings channels add: which channel?"
    assert wrong.text.startswith("/settings buttons: who") and len(wrong.text) < 300
    assert long.text.startswith("/settings blocklist: “xxxx") and "50 characters" in long.text
    assert unknown.text.startswith("/settings takes show, history, channels")
    assert all(reply.private for reply in (missing, wrong, long, unknown))
    assert await audit(studio) == []


async def test_two_admins_changing_at_once_both_count(studio: Workshop) -> None:
    eve = UserRef("1003", "Eve", manages_server=True)
    first, second = await asyncio.gather(
        settings(studio, "channels", change="add", channel="c1"),
        settings(studio, "channels", change="add", channel="c2", by=eve),
    )
    # The change that waited saw the other's channel: both are listed, in the order they landed.
    both = {"Changed. Answers in: <#c1>, <#c2>.", "Changed. Answers in: <#c2>, <#c1>."}
    assert {first.text, second.text} & both
    changes = await audit(studio)
    assert sorted(change.new[-1] for change in changes) == ["c1", "c2"]
    assert sorted(changes[-1].new) == ["c1", "c2"]  # neither change was lost
