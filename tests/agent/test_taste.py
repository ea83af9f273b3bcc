"""/taste: what atelier learned from the pieces a person kept, and clearing it per medium."""

from __future__ import annotations

import pytest

from agent.taste import ASK_WHICH, MEDIA, asked
from agent.types import Command
from tests.support.studio_tools import RECALL, VERSE
from tests.support.workshop import MakeWorkshop
from tools.contract import ArtifactKind


async def test_taste_shows_what_the_kept_pieces_lend_and_clearing_it_changes_the_next_piece(
    make_studio: MakeWorkshop,
) -> None:
    studio = make_studio([VERSE, RECALL])
    await studio.command("/verse form=haiku a heron")
    await studio.command("/verse form=haiku the sea")
    await studio.command("/verse form=couplet rain", user="bob")
    for line, user in (("/keep #1", "ada"), ("/keep #2", "ada"), ("/keep #3", "bob")):
        await studio.command(line, user=user)
    shown = (await studio.command("/taste")).text.splitlines()
    assert shown[1] == "poems: haiku (from 2 kept pieces)"
    assert shown[2].startswith("pictures: nothing yet")
    cleared = await studio.command("/taste clear poems")
    assert "2 kept piece(s) no longer lean" in cleared.text
    # What the tools are offered is what /taste said: ada's is gone, bob's stays.
    assert (await studio.command("/recall anything")).text == "none"
    assert (await studio.command("/recall anything", user="bob")).text == "couplet"
    assert (await studio.command("/taste")).text.splitlines()[1].startswith("poems: nothing yet")
    pieces = await studio.artifacts()
    assert len(pieces) == 5  # three poems and two recalls: clearing deletes nothing


async def test_clearing_without_a_medium_asks_which_and_changes_nothing(
    make_studio: MakeWorkshop,
) -> None:
    studio = make_studio([VERSE])
    await studio.command("/verse form=haiku a heron")
    await studio.command("/keep #1")
    assert (await studio.command("/taste clear")).text == ASK_WHICH
    assert "from 1 kept piece)" in (await studio.command("/taste")).text


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        (Command("taste"), ("show", ())),
        (Command("taste", text="clear pictures"), ("clear", (ArtifactKind.IMAGE,))),
        (Command("taste", text="清除 音乐"), ("clear", (ArtifactKind.MUSIC,))),
        (
            Command("taste", {"action": "clear", "medium": "all"}),
            ("clear", MEDIA),
        ),
    ],
)
def test_the_medium_is_read_from_the_option_or_the_words(
    command: Command, expected: tuple[str, tuple[ArtifactKind, ...]]
) -> None:
    assert asked(command) == expected
