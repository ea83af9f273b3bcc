"""The poem tool through the agent, on the tiny random-weight model: what is claimed about a
poem's form is what the checker found, revisions are child versions that keep what was not
asked to change, /diff shows the change, and bad requests are explained.

The commands pass what to do as fields (mode=revise, change_lines=2, form=haiku): the run
reads no decision from the words, which tools/poem/intents.py reads into those fields
(tests/tools/poem/test_intents.py); the last tests here run the reader and the tool together."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.studio_tools import VERSE
from tests.support.workshop import MakeWorkshop, Workshop
from tools.contract import ArtifactKind, FocusArtifact, ToolContext
from tools.models.text import LoadedCausalLM
from tools.poem.forms import check, find_form
from tools.poem.tool import POEM_TOOL, PoemArgs, plan_poem


class Models:
    """Every role served by one loaded model."""

    def __init__(self, loaded: LoadedCausalLM) -> None:
        self.loaded = loaded

    def get(self, role: str) -> Any:
        return self.loaded


@pytest.fixture
def poet(make_studio: MakeWorkshop, tiny_chat: LoadedCausalLM) -> Workshop:
    return make_studio([POEM_TOOL, VERSE], models=Models(tiny_chat))


async def test_the_form_claimed_is_the_form_the_checker_found(poet: Workshop) -> None:
    reply = await poet.command("/poem form=haiku seed=3 a heron in the rain")
    [artifact] = await poet.artifacts()
    assert artifact.kind == "poem" and artifact.params["form"] == "haiku"
    found = check(artifact.text or "", find_form("haiku"))
    assert reply.text.endswith(found.summary())
    assert artifact.params["form_met"] is found.ok
    assert ("✓" in reply.text) is found.ok


async def test_the_same_seed_writes_the_same_poem(poet: Workshop) -> None:
    first = await poet.command("/poem seed=11 form=haiku a cat who hates Mondays")
    second = await poet.command("/poem seed=11 form=haiku a cat who hates Mondays")
    assert first.text == second.text


async def test_a_local_change_makes_a_child_that_keeps_the_other_lines(poet: Workshop) -> None:
    await poet.command("/verse a heron")  # a two-line poem, #1
    reply = await poet.command(
        "/poem seed=5 mode=revise change_lines=2 #1 change line 2 to mention the moon"
    )
    original, revised = await poet.artifacts()
    assert revised.parent_id == original.id and revised.root_id == original.id
    old_lines, new_lines = (original.text or "").splitlines(), (revised.text or "").splitlines()
    assert new_lines[0] == old_lines[0] and len(new_lines) == len(old_lines)
    changed = "changed line 2" if new_lines[1] != old_lines[1] else "nothing changed"
    assert changed in reply.text


async def test_a_new_stanza_is_added_after_the_poem(poet: Workshop) -> None:
    await poet.command("/verse a heron")
    reply = await poet.command(
        "/poem seed=2 mode=revise add_stanza=true add a stanza about the river"
    )
    original, revised = await poet.artifacts()
    assert revised.parent_id == original.id
    assert (revised.text or "").startswith((original.text or "") + "\n\n")
    assert "added a stanza" in reply.text


async def test_diff_shows_the_lines_that_changed(poet: Workshop) -> None:
    await poet.command("/verse a heron")
    await poet.command("/verse extend=true the river")
    diff = await poet.command("/diff #1 #2")
    assert diff.text.splitlines()[:2] == ["--- #1", "+++ #2"]
    assert "+and now: the river" in diff.text.splitlines()
    assert not any(
        line.startswith("-") and not line.startswith("---") for line in diff.text.splitlines()
    )
    assert "Which two pieces" in (await poet.command("/diff #1")).text
    assert "#9" in (await poet.command("/diff #1 #9")).text


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("/poem form=villanelle the sea", "I can write: free verse, haiku"),
        ("/poem form=haiku", "What should the poem be about?"),
        ("/poem lines=0 the sea", "lines"),
    ],
)
async def test_bad_requests_are_explained_and_nothing_is_made(
    poet: Workshop, line: str, expected: str
) -> None:
    reply = await poet.command(line)
    assert expected in reply.text and not reply.artifacts
    assert await poet.artifacts() == []


def test_an_absurd_length_is_clamped_with_a_note() -> None:
    plan = plan_poem(PoemArgs(prompt="the sea", lines=500))
    assert plan.lines == 40 and plan.notes == ("500 lines is out of range; wrote 40",)


async def test_a_length_out_of_range_is_clamped_and_written(poet: Workshop) -> None:
    # Written line by line to a fixed count, the poem has exactly the length the note says.
    reply = await poet.command("/poem lines=1 seed=1 the sea")
    [artifact] = await poet.artifacts()
    assert "1 lines is out of range; wrote 2" in reply.text
    assert len((artifact.text or "").splitlines()) == 2


async def test_the_language_and_form_come_from_the_request(poet: Workshop) -> None:
    await poet.command("/poem seed=1 写一首关于春天的诗")
    await poet.command("/poem seed=1 form=haiku a haiku about the first snow")
    chinese, haiku = await poet.artifacts()
    assert chinese.params["lang"] == "zh"
    assert haiku.params["form"] == "haiku" and haiku.params["lang"] == "en"


async def test_kept_poems_lend_their_form_and_tone_to_that_person_only(poet: Workshop) -> None:
    await poet.command("/poem form=tanka tone=wistful seed=1 the harbour")
    kept = await poet.command("/keep #1")
    assert "Kept #1" in kept.text
    mine = await poet.command("/poem seed=2 the first snow")
    theirs = await poet.command("/poem seed=2 the first snow", user="bob")
    _, my_poem, their_poem = await poet.artifacts()
    assert my_poem.params["form"] == "tanka" and my_poem.params["tone"] == "wistful"
    assert "as in your kept poems: tanka, wistful" in mine.text
    assert their_poem.params["form"] == "free verse" and their_poem.params["tone"] is None
    assert "kept poems" not in theirs.text
    # A request that names its form gets that form.
    await poet.command("/poem seed=3 form=limerick a limerick about the first snow")
    assert (await poet.artifacts())[-1].params["form"] == "limerick"


async def test_only_your_own_pieces_can_be_kept(poet: Workshop) -> None:
    await poet.command("/poem seed=1 the harbour")
    refused = await poet.command("/keep #1", user="bob")
    assert "#1" in refused.text and "Kept" not in refused.text
    assert (await poet.artifacts())[0].kept_at is None


# --- the words read into fields, then the run -------------------------------------------------


def a_poem(number: int, text: str, **params: Any) -> FocusArtifact:
    return FocusArtifact(number, ArtifactKind.POEM, "a heron", text, None, None, params)


def run_on_words(tiny_chat: LoadedCausalLM, words: str, focus: FocusArtifact | None) -> Any:
    """The tool on a request's words as the agent runs it: the fields they set, then the run."""
    args = POEM_TOOL.args(prompt=words, seed=4, **POEM_TOOL.reads(words))
    return POEM_TOOL.run(args, ToolContext(models=Models(tiny_chat), focus=focus))


@pytest.mark.parametrize(
    ("words", "kept_lines"),
    [("change line 2 to mention the moon", [1, 3]), ("把第二行改成月亮", [1, 3])],
)
def test_a_change_to_named_lines_keeps_the_others(
    tiny_chat: LoadedCausalLM, words: str, kept_lines: list[int]
) -> None:
    old = "a heron in the rain\nstill as a stone\nthe river goes on"
    draft = run_on_words(tiny_chat, words, a_poem(1, old, form="free verse", lang="en"))
    new_lines, old_lines = (draft.text or "").splitlines(), old.splitlines()
    assert draft.from_focus and len(new_lines) == 3
    assert [new_lines[n - 1] for n in kept_lines] == [old_lines[n - 1] for n in kept_lines]


def test_a_stanza_asked_for_in_chinese_is_added(tiny_chat: LoadedCausalLM) -> None:
    old = "白鹭立寒塘\n秋水映斜阳"
    draft = run_on_words(tiny_chat, "再加一段，写河流", a_poem(2, old, lang="zh"))
    assert draft.from_focus and (draft.text or "").startswith(old + "\n\n")
    assert "added a stanza" in (draft.note or "")


def test_a_new_poem_is_written_even_with_a_poem_in_focus(tiny_chat: LoadedCausalLM) -> None:
    draft = run_on_words(tiny_chat, "a haiku about the first snow", a_poem(3, "old\nlines"))
    assert not draft.from_focus and draft.params["form"] == "haiku"


def test_a_sessions_shared_style_joins_the_poems_style_notes(tiny_chat: LoadedCausalLM) -> None:
    args = PoemArgs(prompt="a heron", seed=4, style="short lines")
    draft = POEM_TOOL.run(args, ToolContext(models=Models(tiny_chat), style="ink and rain"))
    assert draft.params["style"] == "short lines, ink and rain"
