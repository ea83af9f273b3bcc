"""Sampling text from a loaded causal LM, for tools (the chat model's LangChain wrapper lives
in agent/chat/model.py; tools never import agent)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import torch

from tools.models.text import LoadedCausalLM
from tools.scheduling.current import through_the_line
from tools.scheduling.work import OnStep, Work


@dataclass(frozen=True)
class Sampling:
    max_new_tokens: int = 160
    temperature: float = 0.8
    top_p: float = 0.95


def sample(
    loaded: LoadedCausalLM,
    messages: Sequence[Mapping[str, str]],
    *,
    count: int,
    seed: int,
    sampling: Sampling = Sampling(),  # noqa: B008 - frozen, shared safely
) -> list[str]:
    """`count` replies to a chat, sampled in one batch; the same seed gives the same replies
    on the same device."""
    tokenizer = loaded.tokenizer
    chat = [dict(message) for message in messages]
    prompt = tokenizer.apply_chat_template(
        chat, add_generation_prompt=True, return_tensors="pt", return_dict=True
    )
    inputs = {name: tensor.to(loaded.device) for name, tensor in prompt.items()}

    def generate(_items: Sequence[None], _on_step: OnStep) -> list[torch.Tensor]:
        with loaded.lock, torch.inference_mode(), seeded(seed, loaded.device):
            return [
                loaded.model.generate(
                    **inputs,
                    do_sample=True,
                    temperature=sampling.temperature,
                    top_p=sampling.top_p,
                    max_new_tokens=sampling.max_new_tokens,
                    num_return_sequences=count,
                    pad_token_id=tokenizer.pad_token_id or tokenizer.eos_token_id,
                )
            ]

    # Alone, through the model's line when a tool run is on this thread (its place, its ETA).
    output = through_the_line(Work(model=loaded.model, kind="text", item=None, run=generate))
    start = inputs["input_ids"].shape[1]
    return [tokenizer.decode(row[start:], skip_special_tokens=True).strip() for row in output]


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
