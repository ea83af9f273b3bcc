"""Sampling text from a loaded causal LM, for tools (the chat model's LangChain wrapper lives
in agent/chat/model.py; tools never import agent)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import torch

from tools.models.text import LoadedCausalLM
from tools.models.text_batches import Prompt, Sampling, TextModel, text_work
from tools.scheduling.current import through_the_line

__all__ = ["Sampling", "sample", "seeded"]


def sample(
    loaded: LoadedCausalLM,
    messages: Sequence[Mapping[str, str]],
    *,
    count: int,
    seed: int,
    sampling: Sampling = Sampling(),  # noqa: B008 - frozen, shared safely
) -> list[str]:
    """`count` replies to a chat, sampled in one batch; the same seed gives the same replies
    on the same device, alone or batched with other people's prompts (text_batches.py)."""
    tokenizer = loaded.tokenizer
    chat = [dict(message) for message in messages]
    ids = tokenizer.apply_chat_template(chat, add_generation_prompt=True, tokenize=True)
    prompt = Prompt(tuple(_token_ids(ids)), count, seed)
    text_model = TextModel(loaded.model, tokenizer, loaded.device, loaded.lock)
    # Through the model's line when a tool run is on this thread (its place, its ETA, and
    # other people's prompts in the same batch); at once where none is.
    replies = through_the_line(text_work(text_model, prompt, sampling))
    return [tokenizer.decode(reply, skip_special_tokens=True).strip() for reply in replies]


def _token_ids(rendered: Any) -> list[int]:
    """apply_chat_template's ids: a list, or (transformers 5) a mapping holding them."""
    ids = rendered["input_ids"] if isinstance(rendered, Mapping) else rendered
    return [int(token) for token in ids]


@contextmanager
def seeded(seed: int | None, device: torch.device) -> Iterator[None]:
    """Seed sampling for one call without touching the process's random state.

    generate() takes no torch.Generator, so fork the global RNG and seed the fork. The lock
    held around this keeps other generations on the same model out; other models sampling
    at the same moment in other threads can still interleave with the global state.
    """
    if seed is None:
        yield
        return
    with torch.random.fork_rng(devices=_cuda_indices(device)):
        torch.manual_seed(seed)
        yield


def _cuda_indices(device: torch.device) -> list[int]:
    if device.type != "cuda":
        return []
    return [device.index if device.index is not None else torch.cuda.current_device()]
