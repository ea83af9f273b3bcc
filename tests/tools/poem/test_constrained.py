"""Form-constrained decoding on tiny random-weight models, which know nothing of poetry: only
the constraint can make their poems meet their forms, end rhyme lines on rhymes, and build
lines of whole words. The Llama (tiny:chat) and a Qwen2, the two families the poem role runs."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from transformers import Qwen2Config, Qwen2ForCausalLM

from tools.contract import ToolContext
from tools.models.smollm2 import smollm2_tokenizer
from tools.models.text import LoadedCausalLM, load_causal_lm
from tools.poem import prosody
from tools.poem.constrained.decode import _english_words
from tools.poem.constrained.spec import PoemSpec
from tools.poem.constrained.tokens import token_table
from tools.poem.constrained.write import form_slots, write
from tools.poem.forms import FORMS, check
from tools.poem.plan import Plan

# Every form that fixes its line count (free verse does not).
FIXED_FORMS = ["haiku", "tanka", "limerick", "quatrain", "sonnet", "wujue", "qijue", "wulv", "qilv"]


def _write(loaded: LoadedCausalLM, name: str, seed: int, count: int) -> list[str]:
    form = FORMS[name]
    lang = form.language or "en"
    messages = [{"role": "user", "content": f"Write a {form.label} about the sea."}]
    spec = PoemSpec(lang, form_slots(Plan(form, lang, None)))
    return write(loaded, messages, spec, seed, ToolContext(), count=count)


@pytest.mark.parametrize("name", FIXED_FORMS)
def test_every_fixed_form_is_met_on_three_seeds(tiny_chat: LoadedCausalLM, name: str) -> None:
    # count=3: one batch, its rows seeded 11, 12 and 13.
    poems = _write(tiny_chat, name, seed=11, count=3)
    assert len(poems) == 3
    for poem in poems:
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


@pytest.fixture(scope="module")
def tiny_qwen2(models_cache_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> LoadedCausalLM:
    """A random-weight Qwen2ForCausalLM saved with SmolLM2's tokenizer and loaded back
    through the real loader, as a local model directory. Its vocabulary is padded past the
    tokenizer's, as Qwen2.5's is (151,936 rows for 151,665 tokens)."""
    tokenizer = smollm2_tokenizer(models_cache_dir)
    config = Qwen2Config(
        vocab_size=len(tokenizer) + 64,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=4096,
        tie_word_embeddings=False,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    directory = tmp_path_factory.mktemp("tiny-qwen2")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        Qwen2ForCausalLM(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return load_causal_lm(str(directory), cache_dir=models_cache_dir, device="cpu", dtype="float32")


@pytest.mark.parametrize("name", ["haiku", "wujue"])
def test_a_qwen2_model_meets_the_form_too(tiny_qwen2: LoadedCausalLM, name: str) -> None:
    assert type(tiny_qwen2.model).__name__ == "Qwen2ForCausalLM"
    for poem in _write(tiny_qwen2, name, seed=5, count=2):
        assert check(poem, FORMS[name]).ok, (poem, check(poem, FORMS[name]).summary())
