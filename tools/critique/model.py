"""Reading a piece with a model: scores from the model's own odds, and the written critique,
the same for a chat model (poems, music) and a vision-language model (images, which it also
sees). The prompts are the rubric's (tools/critique/rubric.py).

Scores: for each criterion the model reads the rubric with the measurements and is asked for a
number; its probabilities of answering "1" to "10" are read off (one pass over the prompt, and
a step or two from its cache for scores of two tokens), and the score is their expected value.
So a score is the model's judgement measured, always in range, whatever the model's size.

Writing: one sampled reply in a fixed layout (evidence per criterion, numbered suggestions),
started for the model with its first label. tools/critique/reading.py checks what it wrote.

This module needs only torch and transformers (no pydantic, no librosa), so bench/critique.py
can time the real architectures on machines that have nothing else.
"""

from __future__ import annotations

import copy
import inspect
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from PIL import Image

from tools.critique.rubric import (
    CRITERIA,
    WRITING_PREFILL,
    Grounds,
    base_request,
    score_prompt,
    writing_prompt,
)
from tools.models.sampling import seeded
from tools.models.text import LoadedCausalLM
from tools.models.text_batches import Prompt, Sampling, TextModel, text_work
from tools.models.vision import LoadedVision
from tools.scheduling.current import through_the_line
from tools.scheduling.work import OnStep, Work

SCORES = range(1, 11)
WRITING_TOKENS = 220


# --- the model as a reader -----------------------------------------------------------------------


@dataclass(frozen=True)
class Reader:
    """A model that reads a chat (a vision model also sees one picture): what scoring and
    writing need, the same for both kinds of model."""

    spec: str
    model: Any
    tokenizer: Any
    device: torch.device
    lock: Any
    render: Callable[[list[tuple[str, str]]], str]  # (role, text) turns -> prompt text
    encode: Callable[[str], dict[str, torch.Tensor]]  # prompt text -> model inputs


def text_reader(loaded: LoadedCausalLM) -> Reader:
    tokenizer = loaded.tokenizer

    def render(turns: list[tuple[str, str]]) -> str:
        chat = [{"role": role, "content": text} for role, text in turns]
        return str(tokenizer.apply_chat_template(chat, add_generation_prompt=True, tokenize=False))

    def encode(text: str) -> dict[str, torch.Tensor]:
        batch = tokenizer(text, return_tensors="pt", add_special_tokens=False)
        return {name: tensor.to(loaded.device) for name, tensor in batch.items()}

    return Reader(loaded.spec, loaded.model, tokenizer, loaded.device, loaded.lock, render, encode)


def vision_reader(loaded: LoadedVision, image: Image.Image) -> Reader:
    def render(turns: list[tuple[str, str]]) -> str:
        chat, shown = [], False
        for role, text in turns:
            parts: list[dict[str, str]] = [{"type": "text", "text": text}]
            if role == "user" and not shown:
                parts.insert(0, {"type": "image"})
                shown = True
            chat.append({"role": role, "content": parts})
        return loaded.prompt_text(chat)

    return Reader(
        loaded.spec,
        loaded.model,
        loaded.tokenizer,
        loaded.device,
        loaded.lock,
        render,
        lambda text: loaded.inputs(text, image),
    )


# --- scoring and writing -------------------------------------------------------------------------


def score_odds(reader: Reader, prompt: str) -> dict[int, float]:
    """The model's probability of answering each score 1-10 after `prompt`, renormalised over
    those answers. Each score is written "7" or " 7"; a score whose tokens begin a longer one
    ("1" of "10") counts only when the model would stop there."""
    candidates = _score_tokens(reader.tokenizer, prompt)
    prefixes = {tokens[:i] for tokens in candidates for i in range(1, len(tokens))}
    inputs = reader.encode(prompt)

    def read(_items: Sequence[None], _on_step: OnStep) -> list[Any]:
        with reader.lock, torch.inference_mode():
            return [_next_token_logprobs(reader.model, inputs, prefixes)]

    after = through_the_line(Work(model=reader.model, kind="critique", item=None, run=read))
    odds = dict.fromkeys(SCORES, 0.0)
    for tokens, score in candidates.items():
        odds[score] += _exactly(tokens, candidates, after)
    total = sum(odds.values())
    return {score: value / total for score, value in odds.items()}


def _score_tokens(tokenizer: Any, prompt: str) -> dict[tuple[int, ...], int]:
    """The token ids each spelling of each score adds to the prompt, tokenised in context
    (a tokenizer may merge a space into the digit)."""
    tail = prompt[-40:]
    base = tokenizer(tail, add_special_tokens=False)["input_ids"]
    spelled: dict[tuple[int, ...], int] = {}
    for score in SCORES:
        for spelling in (str(score), f" {score}"):
            ids = tokenizer(tail + spelling, add_special_tokens=False)["input_ids"]
            if ids[: len(base)] == base and len(ids) > len(base):
                spelled.setdefault(tuple(ids[len(base) :]), score)
    if not spelled:
        raise RuntimeError("the tokenizer cannot spell the scores 1-10 after the prompt")
    return spelled


def _next_token_logprobs(
    model: Any, inputs: dict[str, torch.Tensor], prefixes: set[tuple[int, ...]]
) -> dict[tuple[int, ...], torch.Tensor]:
    """Log-probabilities of the next token after the prompt and after the prompt plus each
    prefix, reusing the prompt's cache (a picture is encoded once)."""
    cache_arg, last_only = _forward_options(model)
    output = model(**inputs, use_cache=True, **last_only)
    after = {(): torch.log_softmax(output.logits[0, -1].float(), dim=-1)}
    cache = getattr(output, "cache", None) or output.past_key_values
    length = inputs["input_ids"].shape[1]
    for prefix in sorted(prefixes, key=len):
        ids = torch.tensor([prefix], device=inputs["input_ids"].device)
        mask = torch.ones((1, length + len(prefix)), dtype=torch.long, device=ids.device)
        step = model(
            input_ids=ids,
            attention_mask=mask,
            use_cache=True,
            **last_only,
            **{cache_arg: copy.deepcopy(cache)},
        )
        after[prefix] = torch.log_softmax(step.logits[0, -1].float(), dim=-1)
    return after


def _forward_options(model: Any) -> tuple[str, dict[str, int]]:
    """The name of the cache argument (transformers 5.24 renamed past_key_values to cache;
    older versions know only the former), and logits for the last position only where the
    model can skip the rest (a 49k-word head over every prompt position is most of the work)."""
    parameters = inspect.signature(model.forward).parameters
    cache_arg = "cache" if "cache" in parameters else "past_key_values"
    return cache_arg, ({"logits_to_keep": 1} if "logits_to_keep" in parameters else {})


def _exactly(
    tokens: tuple[int, ...],
    candidates: Mapping[tuple[int, ...], int],
    after: Mapping[tuple[int, ...], torch.Tensor],
) -> float:
    log_p = sum(float(after[tokens[:i]][token]) for i, token in enumerate(tokens))
    longer = {
        other[len(tokens)]
        for other in candidates
        if len(other) > len(tokens) and other[: len(tokens)] == tokens
    }
    going_on = sum(math.exp(float(after[tokens][token])) for token in longer) if longer else 0.0
    return math.exp(log_p) * max(0.0, 1.0 - going_on)


def write(reader: Reader, prompt: str, seed: int, max_new_tokens: int = WRITING_TOKENS) -> str:
    """The model's continuation of `prompt` (which may end inside its reply), sampled."""
    if max_new_tokens < 1:
        return ""
    inputs = reader.encode(prompt)
    tokenizer = reader.tokenizer
    sampling = Sampling(max_new_tokens=max_new_tokens, temperature=0.7, top_p=0.9)
    if set(inputs) <= {"input_ids", "attention_mask"}:  # words only: batched with others'
        text_model = TextModel(reader.model, tokenizer, reader.device, reader.lock)
        prompt_ids = Prompt(tuple(inputs["input_ids"][0].tolist()), 1, seed)
        (reply,) = through_the_line(text_work(text_model, prompt_ids, sampling))
        return str(tokenizer.decode(reply, skip_special_tokens=True))

    def generate(_items: Sequence[None], _on_step: OnStep) -> list[Any]:
        with reader.lock, torch.inference_mode(), seeded(seed, reader.device):
            return [
                reader.model.generate(
                    **inputs,
                    do_sample=True,
                    temperature=sampling.temperature,
                    top_p=sampling.top_p,
                    max_new_tokens=max_new_tokens,
                    pad_token_id=tokenizer.pad_token_id or tokenizer.eos_token_id,
                )
            ]

    # A picture with it: alone, through the model's line when a tool run is on this thread.
    output = through_the_line(Work(model=reader.model, kind="critique", item=None, run=generate))
    start = inputs["input_ids"].shape[1]
    return str(tokenizer.decode(output[0, start:], skip_special_tokens=True))


# --- a whole reading -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Reading:
    """What the model made of a piece: its scores and its reply, and the prompt it replied to."""

    scores: dict[str, int]
    expected: dict[str, float]  # the expected score under the model's odds, unrounded
    reply: str  # the layout's first label, then what the model wrote
    writing_prompt: str


def read_piece(
    reader: Reader,
    grounds: Grounds,
    asked: str | None,
    seed: int,
    *,
    writing_tokens: int = WRITING_TOKENS,
    step: Callable[[float, str], None] = lambda _fraction, _label: None,
) -> Reading:
    """Score each criterion, then write; `step` is told before each stage (the tool checks
    for cancellation and reports progress there)."""
    request = base_request(grounds, asked)
    scores, expected = {}, {}
    for index, criterion in enumerate(CRITERIA):
        step(0.3 + 0.1 * index, f"scoring {criterion}")
        odds = score_odds(reader, score_prompt(reader.render, request, criterion))
        expected[criterion] = sum(score * p for score, p in odds.items())
        scores[criterion] = min(10, max(1, math.floor(expected[criterion] + 0.5)))
    step(0.7, "writing the critique")
    prompt = writing_prompt(reader.render, request, scores)
    reply = WRITING_PREFILL + write(reader, prompt, seed, writing_tokens)
    return Reading(scores, expected, reply, prompt)
