"""Text sampling batched across people: each prompt gets the replies it would have got alone
(same seed), though the prompts differ in length and in how many replies they ask for."""

from __future__ import annotations

import pytest

from tests.tools.scheduling.helpers import batched
from tools.models.text import LoadedCausalLM
from tools.models.text_batches import Prompt, Sampling, TextModel, sample_batch, text_work
from tools.scheduling.work import no_step

SHORT = Sampling(max_new_tokens=12)


@pytest.fixture(scope="module")
def text_model(tiny_chat: LoadedCausalLM) -> TextModel:
    return TextModel(tiny_chat.model, tiny_chat.tokenizer, tiny_chat.device, tiny_chat.lock)


def prompt(text_model: TextModel, words: str, count: int, seed: int) -> Prompt:
    return Prompt(tuple(text_model.tokenizer(words)["input_ids"]), count, seed)


def alone(text_model: TextModel, one: Prompt) -> list[list[int]]:
    return sample_batch(text_model, [one], SHORT, no_step)[0]


def test_batched_replies_equal_each_prompt_sampled_alone(text_model: TextModel) -> None:
    prompts = [
        prompt(text_model, "a poem about the sea at night", 2, seed=1),
        prompt(text_model, "rain", 1, seed=2),
        prompt(text_model, "a limerick about a cat who learned to sing in the choir", 3, seed=3),
    ]
    works = [text_work(text_model, one, SHORT) for one in prompts]

    results, sizes = batched(works, "text", cap=6)

    assert sizes == [6]  # every reply of the three jobs in one generate() call
    assert results == [alone(text_model, one) for one in prompts]
    assert [len(replies) for replies in results] == [2, 1, 3]


def test_a_seed_gives_the_same_replies_and_another_seed_others(text_model: TextModel) -> None:
    first = alone(text_model, prompt(text_model, "autumn leaves", 2, seed=7))

    assert alone(text_model, prompt(text_model, "autumn leaves", 2, seed=7)) == first
    assert alone(text_model, prompt(text_model, "autumn leaves", 2, seed=8)) != first
    assert first[0] != first[1]  # the replies of one job are different samples
