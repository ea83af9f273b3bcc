"""Choosing each step's tokens on the device: classifier-free guidance over the batch's two
halves, then greedy or top-k sampling. Sampling takes its randomness from noise drawn up
front with a torch.Generator (Gumbel-max with exponential noise), so a step never syncs
with the host and a CUDA graph can replay it: the same seed gives the same clip."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from transformers import GenerationConfig


@dataclass(frozen=True)
class Sampling:
    """How a token is chosen: the most likely (greedy), or one of the `top_k` most likely
    with probability from the logits at `temperature`."""

    greedy: bool = False
    top_k: int = 250
    temperature: float = 1.0

    @classmethod
    def of(cls, config: GenerationConfig, *, greedy: bool = False) -> Sampling:
        """The model's own generation settings (musicgen checkpoints ship top_k 250); what
        it leaves unset takes generate()'s defaults (GenerationConfig's, top_k 50, T 1)."""
        defaults = GenerationConfig._get_default_generation_params()
        top_k = defaults["top_k"] if config.top_k is None else config.top_k
        temperature = defaults["temperature"] if config.temperature is None else config.temperature
        return cls(greedy=greedy, top_k=int(top_k), temperature=float(temperature))

    def candidates(self, vocab_size: int) -> int:
        """How many tokens each choice is among: top_k, at most the vocabulary (0: all)."""
        return vocab_size if self.top_k <= 0 else min(self.top_k, vocab_size)


def guided(logits: torch.Tensor, scale: float) -> torch.Tensor:
    """Classifier-free guidance as generate()'s ClassifierFreeGuidanceLogitsProcessor: the
    first half of the rows is conditional, the second unconditional."""
    conditional, unconditional = logits.split(logits.shape[0] // 2, dim=0)
    return unconditional + (conditional - unconditional) * scale


def draw_noise(
    generator: torch.Generator | Sequence[torch.Generator],
    steps: int,
    rows: int,
    candidates: int,
    device: torch.device,
) -> torch.Tensor:
    """Exponential noise for every step's choices, (steps, rows, candidates), drawn at once.
    With one generator per clip (a batch of several people's), each draws its own clip's
    rows, so a clip's noise is the same as when it is made alone."""
    if isinstance(generator, torch.Generator):
        noise = torch.empty((steps, rows, candidates), dtype=torch.float32, device=device)
        return noise.exponential_(generator=generator)
    per_clip = rows // len(generator)
    return torch.cat(
        [draw_noise(one, steps, per_clip, candidates, device) for one in generator], dim=1
    )


def choose(logits: torch.Tensor, sampling: Sampling, noise: torch.Tensor | None) -> torch.Tensor:
    """One token per row of float32 logits (rows, vocab). Sampling: argmax of p / E over the
    top k, E exponential noise (rows, k), which draws each candidate with probability p."""
    if sampling.greedy or noise is None:
        return logits.argmax(dim=-1)
    values, indices = logits.topk(noise.shape[-1], dim=-1)
    probabilities = torch.softmax(values / sampling.temperature, dim=-1)
    picked = (probabilities / noise).argmax(dim=-1, keepdim=True)
    return indices.gather(-1, picked).squeeze(-1)
