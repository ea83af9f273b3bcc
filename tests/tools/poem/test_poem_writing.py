"""The poem tool writes with constrained decoding, on the tiny random-weight model, which
knows nothing of poetry: every candidate write_poem writes meets its form (English and
Chinese, three seeds each), rhyme lines end on rhymes, strict 平仄 holds where asked and is
only reported where not, the best candidate by form is then the closest to the request by
the real MiniLM, and revisions write their lines the same way."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tools.contract import ArtifactDraft, ArtifactKind, FocusArtifact, ToolContext
from tools.models.embedding import LoadedEmbedding, load_embedding
from tools.models.text import LoadedCausalLM
from tools.poem import prosody
from tools.poem import tool as poem_tool
from tools.poem.forms import FORMS, check
from tools.poem.tool import PoemArgs, write_poem
from tools.poem.topic import score_poems

# Through write_poem, a form of each kind: syllables alone, syllables and rhymes, 5 and 7
# characters. Every fixed form, sonnet included, is written on three seeds by the decoder
# itself in tests/tools/poem/test_constrained.py; the tool adds the choice among candidates.
ENGLISH_FORMS = ["haiku", "limerick"]
CHINESE_FORMS = ["wujue", "qilv"]
SEEDS = 3  # rows of one batch, seeded 1, 2, 3


class Models:
    """The tiny chat model as the poem model, the real MiniLM as the embedding model."""

    def __init__(self, chat: LoadedCausalLM, embedder: LoadedEmbedding) -> None:
        self.by_role = {"poem": chat, "embedding": embedder}

    def get(self, role: str) -> Any:
        return self.by_role[role]


@dataclass(frozen=True)
class Written:
    draft: ArtifactDraft
    candidates: list[str]  # every poem the decoder wrote for it


@pytest.fixture(scope="module")
def minilm(models_cache_dir: Path) -> LoadedEmbedding:
    return load_embedding(
        "bundled:minilm", cache_dir=models_cache_dir, device="cpu", dtype="float32"
    )


@pytest.fixture(scope="module")
def write_form(
    tiny_chat: LoadedCausalLM, minilm: LoadedEmbedding
) -> Iterator[Callable[[str], Written]]:
    """A poem of each form through write_poem, written once for the module, with SEEDS
    candidates in one batch and every candidate kept."""
    with pytest.MonkeyPatch.context() as patch:
        seen: list[str] = []
        real = poem_tool.candidates

        def recording(*args: Any, **options: Any) -> list[str]:
            poems = real(*args, **options)
            seen.extend(poems)
            return poems

        patch.setattr(poem_tool, "candidates", recording)
        patch.setattr(poem_tool, "CANDIDATES", SEEDS)

        @functools.cache
        def written(name: str) -> Written:
            seen.clear()
            args = PoemArgs(prompt="the sea at dawn", form=name, seed=1)
            draft = write_poem(args, ToolContext(models=Models(tiny_chat, minilm)))
            return Written(draft, list(seen))

        yield written


@pytest.mark.parametrize("name", [*ENGLISH_FORMS, *CHINESE_FORMS])
def test_every_candidate_of_every_form_meets_it(
    write_form: Callable[[str], Written], name: str
) -> None:
    written = write_form(name)
    assert len(written.candidates) == SEEDS
    for poem in written.candidates:
        assert check(poem, FORMS[name]).ok, (poem, check(poem, FORMS[name]).summary())
    draft = written.draft
    assert draft.text in written.candidates
    assert draft.params["form_met"] is True and (draft.note or "").endswith("✓")


@pytest.mark.parametrize("name", ["limerick"])
def test_rhyme_lines_end_on_rhymes_of_their_partners(
    write_form: Callable[[str], Written], name: str
) -> None:
    scheme = FORMS[name].rhyme_schemes[0]
    for poem in write_form(name).candidates:
        ends = [prosody.last_english_word(line) for line in poem.splitlines()]
        for i, letter in enumerate(scheme):
            first = scheme.index(letter)
            if first != i:
                pair = (ends[first], ends[i])
                assert pair[0] and pair[1] and prosody.english_rhyme(*pair), (pair, poem)


def test_the_poem_kept_is_the_closest_to_the_request_among_the_best_by_form(
    write_form: Callable[[str], Written], minilm: LoadedEmbedding
) -> None:
    written = write_form("haiku")
    scores = score_poems(minilm, "the sea at dawn", written.candidates)
    values = [s.value for s in scores]
    assert all(value is not None for value in values)
    params = written.draft.params
    assert params["topic"] == pytest.approx(max(v for v in values if v is not None), abs=1e-4)
    assert params["topic_model"] == "bundled:minilm" and params["subject"] == "the sea at dawn"


def test_a_chinese_poem_says_its_topic_was_not_measured(
    write_form: Callable[[str], Written],
) -> None:
    params = write_form("wujue").draft.params
    assert params["topic"] is None and "does not know" in params["topic_note"]


def test_without_an_embedding_model_the_poem_claims_no_topic_score(
    tiny_chat: LoadedCausalLM,
) -> None:
    class ChatOnly:  # serves the chat model for every role, as some doubles do
        def get(self, role: str) -> Any:
            return tiny_chat

    args = PoemArgs(prompt="the sea", form="haiku", seed=2)
    draft = write_poem(args, ToolContext(models=ChatOnly()))
    assert draft.params["form_met"] is True
    assert not {"topic", "topic_model", "topic_note"} & set(draft.params)


# --- strict 平仄 --------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [1, 2])
def test_a_strict_wujue_keeps_its_tone_pattern(
    tiny_chat: LoadedCausalLM, minilm: LoadedEmbedding, seed: int
) -> None:
    args = PoemArgs(prompt="秋天", form="wujue", seed=seed, strict=True)
    draft = write_poem(args, ToolContext(models=Models(tiny_chat, minilm)))
    result = check(draft.text or "", FORMS["wujue"], strict_tones=True)
    assert result.ok and result.tones is not None and result.tones.ok, result.summary()
    assert draft.params["strict"] is True and draft.params["tone_misses"] == []


def test_without_strict_the_tones_are_reported_not_enforced(
    write_form: Callable[[str], Written],
) -> None:
    # The tiny model's characters fall where they may: misses are measured, not failures.
    params = write_form("qilv").draft.params
    assert params["strict"] is False and params["form_met"] is True
    assert params["tone_misses"], params["tones_kept"]


# --- revisions ----------------------------------------------------------------------------


def a_poem(text: str, form: str, **params: Any) -> FocusArtifact:
    lang = FORMS[form].language or "en"
    all_params = {"form": form, "lang": lang, **params}
    return FocusArtifact(1, ArtifactKind.POEM, "a heron in the rain", text, None, None, all_params)


def revised(
    chat: LoadedCausalLM, embedder: LoadedEmbedding, focus: FocusArtifact, **fields: Any
) -> ArtifactDraft:
    args = PoemArgs(mode="revise", seed=5, **fields)
    return write_poem(args, ToolContext(models=Models(chat, embedder), focus=focus))


def test_a_new_line_2_meets_its_count_and_the_rest_is_kept(
    tiny_chat: LoadedCausalLM, minilm: LoadedEmbedding
) -> None:
    old = "a grey heron waits\nstands in the river all the long grey day\nthe water goes on"
    draft = revised(
        tiny_chat, minilm, a_poem(old, "haiku"), prompt="change line 2", change_lines=(2,)
    )
    new, before = (draft.text or "").splitlines(), old.splitlines()
    assert [new[0], new[2]] == [before[0], before[2]] and new[1] != before[1]
    assert 7 in prosody.line_syllable_options(new[1])
    assert (draft.note or "").startswith("changed line 2 · haiku 5-7-5 ✓")
    assert draft.params["subject"] == "a heron in the rain"


def test_a_stanza_added_to_a_quatrain_continues_its_rhyme_scheme(
    tiny_chat: LoadedCausalLM, minilm: LoadedEmbedding
) -> None:
    old = (
        "The night is deep and still,\nthe stars are cold and bright;\n"
        "I climb the silent hill\nand walk into the night."
    )
    draft = revised(
        tiny_chat, minilm, a_poem(old, "quatrain"), prompt="add a stanza", add_stanza=True
    )
    text = draft.text or ""
    assert text.startswith(old + "\n\n") and "added a stanza of 4 lines" in (draft.note or "")
    stanza = text.split("\n\n")[1]
    assert check(stanza, FORMS["quatrain"]).ok, check(stanza, FORMS["quatrain"]).summary()
    assert draft.params["form"] == "free verse"  # eight lines are no quatrain


def test_make_it_darker_rewrites_the_whole_poem_in_its_form(
    tiny_chat: LoadedCausalLM, minilm: LoadedEmbedding
) -> None:
    old = "二月春风暖\n桃花映水红\n燕归寻旧巢\n人在画图中"
    draft = revised(tiny_chat, minilm, a_poem(old, "wujue", strict=True), prompt="改得更忧伤")
    result = check(draft.text or "", FORMS["wujue"], strict_tones=True)
    assert draft.from_focus and draft.text != old
    assert result.ok, result.summary()  # a strict poem's revision stays strict
    assert draft.params["strict"] is True
