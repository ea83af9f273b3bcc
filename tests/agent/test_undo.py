"""/undo: the previous version becomes the focus again, nothing is deleted; free text asks
for it in English and Chinese; one line, nothing changed, where there is nothing to undo."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from agent.making.decisions import Decision
from agent.store.db import Conversation
from agent.types import Place, Turn, UserRef
from agent.undo import NOTHING_MADE, spoken_undo
from tests.support.studio_tools import VERSE, ScriptedRouter, VerseArgs
from tests.support.workshop import MakeWorkshop, Workshop

DARKER = Decision("verse", VerseArgs(prompt="darker", extend=True))


async def _focus_ids(studio: Workshop) -> list[int | None]:
    async with studio.sessions() as session:
        return list((await session.execute(select(Conversation.focus_artifact_id))).scalars())


async def _three_versions(studio: Workshop) -> None:
    await studio.command("/verse a heron")
    await studio.command("/verse extend=true rain")
    await studio.command("/verse extend=true wind")


async def test_undo_moves_the_focus_back_and_the_next_change_builds_on_it(
    make_studio: MakeWorkshop,
) -> None:
    studio = make_studio([VERSE], router=ScriptedRouter({"make it darker": DARKER}))
    await _three_versions(studio)
    undone = await studio.command("/undo")
    assert undone.text.startswith("Back to #2 (version 2)")
    assert "#3 is still there" in undone.text
    versions = (await studio.command("/versions #1")).text.splitlines()
    assert versions[1:] == [
        "#1 poem couplet on a heron",
        "  #2 poem couplet on a heron  ← you are here",
        "    #3 poem couplet on a heron",
    ]
    made = await studio.say("make it darker")
    pieces = await studio.artifacts()
    assert len(pieces) == 4  # every version kept: #3 was not deleted
    darker = pieces[-1]
    assert (darker.parent_id, darker.root_id, darker.version) == (2, 1, 4)
    assert "and now: wind" not in made.text and made.text.endswith("and now: darker")
    # A new piece: "the latest" applies again, and the tree marks nothing.
    assert await _focus_ids(studio) == [None]
    assert "you are here" not in (await studio.command("/versions #1")).text


@pytest.mark.parametrize("words", ["undo", "Go back to the previous version.", "撤销"])
async def test_undo_in_free_text_goes_one_further_back_each_time(
    make_studio: MakeWorkshop, words: str
) -> None:
    studio = make_studio([VERSE], router=ScriptedRouter({}))
    await _three_versions(studio)
    assert (await studio.say(words)).text.startswith("Back to #2")
    assert (await studio.say(words)).text.startswith("Back to #1")
    at_first = await studio.say(words)
    assert at_first.text == "#1 is the first version of its piece: there is nothing before it."
    assert await _focus_ids(studio) == [1]  # unchanged by the refused undo
    assert len(await studio.artifacts()) == 3


async def test_nothing_to_undo_says_so_in_one_line_and_changes_nothing(
    make_studio: MakeWorkshop,
) -> None:
    studio = make_studio([VERSE])
    assert (await studio.command("/undo")).text == NOTHING_MADE
    await studio.command("/verse hello")  # a conversation now, with only version 1
    await studio.command("/verse another piece")
    assert (await studio.command("/undo #1")).text.startswith("#1 is the first version")
    assert (await studio.command("/undo")).text.startswith("#2 is the first version")
    assert await _focus_ids(studio) == [None]


async def test_undo_of_another_persons_piece_is_no_such_piece(make_studio: MakeWorkshop) -> None:
    studio = make_studio([VERSE])
    dm = Place(channel_id=None, guild_id=None, is_direct=True)
    await studio.command("/verse a heron", place=dm)
    await studio.command("/verse extend=true rain", place=dm)
    await studio.command("/verse mine", user="bob", place=dm)
    refused = await studio.command("/undo #2", user="bob", place=dm)
    assert refused.text == "I can't find #2 among the pieces in your conversations."
    assert await _focus_ids(studio) == [None, None]


@pytest.mark.parametrize("text", ["undo the blue and make it red", "undone", "make it darker"])
def test_other_words_are_not_an_undo(text: str) -> None:
    turn = Turn("test", UserRef("ada", "Ada"), Place(channel_id="c1"), text)
    assert spoken_undo(turn).command is None
