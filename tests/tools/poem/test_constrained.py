"""Form-constrained decoding on the tiny random-weight model, which knows nothing of poetry:
only the constraint can make its poems meet their forms, end rhyme lines on rhymes, and
build lines of whole words."""

from __future__ import annotations

import pytest

from tools.contract import ToolContext
from tools.models.text import LoadedCausalLM
from tools.poem import prosody
from tools.poem.constrained.decode import _english_words
from tools.poem.constrained.spec import PoemSpec
from tools.poem.constrained.tokens import token_table
from tools.poem.constrained.write import form_slots, write
from tools.poem.forms import FORMS, check
from tools.poem.plan import Plan


def _write(loaded: LoadedCausalLM, name: str, seed: int, count: int) -> list[str]:
    form = FORMS[name]
    lang = form.language or "en"
    messages = [{"role": "user", "content": f"Write a {form.label} about the sea."}]
    spec = PoemSpec(lang, form_slots(Plan(form, lang, None)))
    return write(loaded, messages, spec, seed, ToolContext(), count=count)


@pytest.mark.parametrize("name", ["haiku", "wujue"])
def test_every_candidate_meets_its_form(tiny_chat: LoadedCausalLM, name: str) -> None:
    for poem in _write(tiny_chat, name, seed=3, count=2):
        assert check(poem, FORMS[name]).ok, (poem, check(poem, FORMS[name]).summary())


def test_lines_are_whole_words_and_rows_batched_equal_rows_alone(
    tiny_chat: LoadedCausalLM,
) -> None:
    batched = _write(tiny_chat, "haiku", seed=7, count=2)
    alone = [_write(tiny_chat, "haiku", seed=7 + row, count=1)[0] for row in range(2)]
    assert batched == alone
    words = _english_words(tiny_chat.tokenizer, token_table(tiny_chat.tokenizer))
    for poem in batched:
        for word in prosody.english_words(poem):
            assert words.is_word(word), (word, poem)
