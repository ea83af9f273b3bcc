"""Text sampling as scheduler work: several people's prompts for one causal LM, sampled with the
same settings, run as one generate() call, each job with its own seed.

generate() draws every row's sample from the one global random state, so rows of a batch
would depend on which other jobs shared it. Here generate() decodes greedily over scores our
own processor has already sampled: each job's rows draw from that job's own torch.Generator,
and the chosen token is the only one left standing. A job's replies are then the same batched
as alone (left padding is masked, and positions come from the mask). Only the last sampled
token of each row counts; a row past its end-of-text is padded by generate() as usual.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from transformers import LogitsProcessor, LogitsProcessorList

from tools.scheduling.work import OnStep, Work

KIND = "text"


@dataclass(frozen=True)
class Sampling:
    max_new_tokens: int = 160
    temperature: float = 0.8
    top_p: float = 0.95


@dataclass(frozen=True)
class Prompt:
    """One job: its prompt's token ids, how many replies, and the seed they are drawn with."""

    ids: tuple[int, ...]
    count: int
    seed: int


@dataclass(frozen=True, eq=False)
class TextModel:
    """What sampling needs of a loaded causal LM (a poem's, a critique's text reader)."""

    model: Any
    tokenizer: Any
    device: torch.device
    lock: threading.Lock


def text_work(
    text_model: TextModel, prompt: Prompt, sampling: Sampling
) -> Work[Prompt, list[list[int]]]:
    """The prompt as one job: its replies' new token ids, one list per reply."""
    return Work(
        model=text_model.model,
        kind=KIND,
        item=prompt,
        run=lambda prompts, on_step: sample_batch(text_model, prompts, sampling, on_step),
        shape=sampling,
        size=prompt.count,
    )


def sample_batch(
    text_model: TextModel,
    prompts: Sequence[Prompt],
    sampling: Sampling,
    _on_step: OnStep,
) -> list[list[list[int]]]:
    """Every prompt's replies in one generate() call, under the model's lock."""
    ids, mask = _left_padded([p for p in prompts for _ in range(p.count)], text_model)
    rows: list[slice] = []
    for prompt in prompts:
        start = rows[-1].stop if rows else 0
        rows.append(slice(start, start + prompt.count))
    device = text_model.device
    with text_model.lock, torch.inference_mode():
        generators = [torch.Generator(device).manual_seed(p.seed) for p in prompts]
        chooser = EachJobSamples(rows, generators, sampling)
        output = text_model.model.generate(
            input_ids=ids.to(device),
            attention_mask=mask.to(device),
            do_sample=False,
            logits_processor=LogitsProcessorList([chooser]),
            max_new_tokens=sampling.max_new_tokens,
            pad_token_id=_pad_id(text_model.tokenizer),
            # The model's own sampling settings do not apply: this processor samples.
            temperature=None,
            top_p=None,
            top_k=None,
        )
    new = output[:, ids.shape[1] :].cpu().tolist()
    ends = _end_ids(text_model)
    return [[_until_end(row, ends) for row in new[span]] for span in rows]


class EachJobSamples(LogitsProcessor):
    """Samples each job's rows with its own generator (temperature, then top-p) and leaves
    only the chosen token: greedy decoding then takes exactly it."""

    def __init__(
        self, rows: Sequence[slice], generators: Sequence[torch.Generator], sampling: Sampling
    ) -> None:
        self._rows = rows
        self._generators = generators
        self._sampling = sampling

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        chosen = torch.empty(scores.shape[0], dtype=torch.long, device=scores.device)
        for rows, generator in zip(self._rows, self._generators, strict=True):
            probabilities = nucleus(scores[rows].float(), self._sampling)
            chosen[rows] = torch.multinomial(probabilities, 1, generator=generator)[:, 0]
        only = torch.full_like(scores, -torch.inf)
        return only.scatter_(1, chosen[:, None], 0.0)


def nucleus(scores: torch.Tensor, sampling: Sampling) -> torch.Tensor:
    """The distribution after temperature and top-p: the likeliest tokens whose probability
    adds up to top_p (always at least one), renormalised."""
    probabilities = torch.softmax(scores / sampling.temperature, dim=-1)
    ordered, order = probabilities.sort(dim=-1, descending=True)
    before = ordered.cumsum(dim=-1) - ordered  # the mass of the likelier tokens
    ordered = ordered.masked_fill(before >= sampling.top_p, 0.0)
    kept = torch.zeros_like(probabilities).scatter_(-1, order, ordered)
    return kept / kept.sum(dim=-1, keepdim=True)


def _left_padded(
    prompts: Sequence[Prompt], text_model: TextModel
) -> tuple[torch.Tensor, torch.Tensor]:
    """Every prompt ending at the last column, the padding masked out."""
    width = max(len(p.ids) for p in prompts)
    ids = torch.full((len(prompts), width), _pad_id(text_model.tokenizer), dtype=torch.long)
    mask = torch.zeros((len(prompts), width), dtype=torch.long)
    for row, prompt in enumerate(prompts):
        ids[row, width - len(prompt.ids) :] = torch.tensor(prompt.ids)
        mask[row, width - len(prompt.ids) :] = 1
    return ids, mask


def _pad_id(tokenizer: Any) -> int:
    pad = tokenizer.pad_token_id
    return tokenizer.eos_token_id if pad is None else pad


def _end_ids(text_model: TextModel) -> frozenset[int]:
    """The tokens generate() stops a row at: the model's own, and the tokenizer's."""
    configured = getattr(text_model.model.generation_config, "eos_token_id", None)
    listed = configured if isinstance(configured, list) else [configured]
    return frozenset(i for i in (*listed, text_model.tokenizer.eos_token_id) if i is not None)


def _until_end(row: list[int], ends: frozenset[int]) -> list[int]:
    """A reply's tokens before its end-of-text (generate() pads the rest of the row)."""
    return next((row[:at] for at, token in enumerate(row) if token in ends), row)
