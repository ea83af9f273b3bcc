"""Constrained routing: free text to a tool, for chat models that cannot call tools.

A small model such as the bundled SmolLM2 copies a tool schema instead of calling it, and
asked "which tool?" it answers "poem" for almost anything. What it does well is say how
likely a text is. So the router asks, for each choice ("just answer" and every tool), how
likely the person's request is when the model has been told what that choice does: the
choice's description is the system message, a few example requests it serves are the earlier
turns, the request is the next user message, and the choice whose conversation makes the
request most probable wins. This is "noisy channel" scoring (Min et al., 2022): it compares
probabilities of the same text, so no choice wins merely by being a likelier word.

These conversations are the same on every turn, so their key/value cache is computed
once; a turn runs the model over the request's tokens only, all choices in one batch, and
with the model scheduler (tools/scheduling/) other people's requests of the same moment in
that batch too.

Arguments are then filled from the request and validated with the tool's own `Args`: the
free text goes to the tool's text argument (the tool reads form, language and tone from it),
an option value the request names outright ("a haiku ...", "seed 7") is taken, and what
fails validation becomes a short question to the person instead of an error.
"""

from __future__ import annotations

import asyncio
import copy
import inspect
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import torch
from langchain_core.messages import BaseMessage
from pydantic import ValidationError

from agent.making.decisions import ANSWER, REVISE, Decision
from agent.making.tool_args import read_words
from tools.catalog import JUST_ANSWER, REVISE_FOCUS, ToolInfo
from tools.contract import Tool, no_progress
from tools.models.text import LoadedCausalLM
from tools.scheduling.lane import ALONE, Lane
from tools.scheduling.work import OnStep, Work

# The request's opening words carry its intent; a 4,000-character message need not be read
# whole to route it.
MAX_REQUEST_TOKENS = 96
_TEXT_MARK = "\x00request\x00"
SCORING = "scoring"  # the scheduler's kind for routing requests (its batch cap, its pace)


def choice_messages(choice: ToolInfo) -> list[dict[str, str]]:
    """The conversation a request is scored in for one choice: what the choice does, then its
    example requests as earlier turns, each answered with the choice's name, then the request
    (a mark where its text goes). A small chat model predicts a request that resembles the
    earlier ones far better than it follows a list of examples inside the system message."""
    messages = [{"role": "system", "content": choice.description}]
    for example in choice.examples:
        messages.append({"role": "user", "content": example})
        messages.append({"role": "assistant", "content": f"({choice.name})"})
    messages.append({"role": "user", "content": _TEXT_MARK})
    return messages


@dataclass
class _Prefixes:
    """The choices' conversations, run through the model once, left-padded to one length."""

    names: tuple[str, ...]
    cache: Any  # the model's key/value cache for the prefixes (a transformers Cache)
    mask: torch.Tensor  # (choices, prefix length): 1 where a prefix has a real token
    lengths: torch.Tensor  # (choices,): real tokens per prefix
    next_logprobs: torch.Tensor  # (choices, vocab): log-probs of the request's first token


class ChoiceScorer:
    """log P(request | choice's conversation) for each choice, in one batched forward pass."""

    def __init__(self, loaded: LoadedCausalLM, lane: Lane = ALONE) -> None:
        self._loaded = loaded
        self._lane = lane  # the model scheduler (tools/scheduling/): ALONE scores at once
        self._prefixes: dict[tuple[ToolInfo, ...], _Prefixes] = {}
        self._cache_keyword = _cache_argument(loaded.model)

    def scores(self, text: str, choices: Sequence[ToolInfo]) -> dict[str, float]:
        """Blocking (model work): call it from a worker thread. Requests routed at the same
        moment, for the same choices, are scored in one batch through the model's line."""
        loaded = self._loaded
        with loaded.lock:  # a fast tokenizer must not be used by two threads at once
            request = self._request_ids(text)
        key = tuple(choices)
        work = Work(
            model=loaded.model,
            kind=SCORING,
            item=request,
            run=partial(self._score_batch, key),
            shape=key,
        )
        totals = self._lane.run(work, no_progress, _never_cancelled)
        # A tool with more than one description (Tool.also_serves) scores by its likeliest.
        best: dict[str, float] = {}
        for info, total in zip(key, totals.tolist(), strict=True):
            best[info.name] = max(total, best.get(info.name, -math.inf))
        return best

    def _score_batch(
        self, choices: tuple[ToolInfo, ...], requests: Sequence[list[int]], _on_step: OnStep
    ) -> list[torch.Tensor]:
        """Each request's totals over the choices (one row of `choices` scores each)."""
        with self._loaded.lock, torch.inference_mode():
            prefixes = self._prefixes_for(choices)
            return list(self._score(prefixes, requests))

    def _head(self, choice: ToolInfo) -> str:
        """The rendered conversation up to where the request's text starts."""
        tokenizer = self._loaded.tokenizer
        rendered = tokenizer.apply_chat_template(choice_messages(choice), tokenize=False)
        return rendered.split(_TEXT_MARK)[0]

    def _request_ids(self, text: str) -> list[int]:
        tokenizer = self._loaded.tokenizer
        ids = tokenizer(text.strip(), add_special_tokens=False)["input_ids"]
        return ids[:MAX_REQUEST_TOKENS] or [tokenizer.eos_token_id]

    def _prefixes_for(self, choices: tuple[ToolInfo, ...]) -> _Prefixes:
        if choices not in self._prefixes:
            self._prefixes[choices] = self._run_prefixes(choices)
        return self._prefixes[choices]

    def _run_prefixes(self, choices: tuple[ToolInfo, ...]) -> _Prefixes:
        tokenizer, device = self._loaded.tokenizer, self._loaded.device
        rows = [tokenizer(self._head(c), add_special_tokens=False)["input_ids"] for c in choices]
        width = max(len(row) for row in rows)
        ids = torch.zeros((len(rows), width), dtype=torch.long)  # padding: masked out
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, row in enumerate(rows):  # left padding: every prefix ends at the last column
            ids[i, width - len(row) :] = torch.tensor(row)
            mask[i, width - len(row) :] = 1
        lengths = mask.sum(dim=1)
        positions = (mask.cumsum(dim=1) - 1).clamp(min=0)
        out = self._loaded.model(
            input_ids=ids.to(device),
            attention_mask=mask.to(device),
            position_ids=positions.to(device),
            use_cache=True,
        )
        next_logprobs = out.logits[:, -1, :].float().log_softmax(dim=-1)
        names = tuple(c.name for c in choices)
        return _Prefixes(names, _returned_cache(out), mask, lengths, next_logprobs)

    def _score(self, prefixes: _Prefixes, requests: Sequence[list[int]]) -> torch.Tensor:
        """(requests, choices): log P(request | choice), every request in one forward pass.

        The requests are packed into one sequence after each choice's cached prefix, and a
        mask lets each token see the prefix and its own request's earlier tokens only, so each
        is scored as if alone. Packed rather than batched: a batch would copy every prefix's
        cache once per request (hundreds of MB for SmolLM2), which costs more than it saves."""
        device, model = self._loaded.device, self._loaded.model
        choices = len(prefixes.names)
        firsts = torch.stack([prefixes.next_logprobs[:, request[0]] for request in requests])
        if max(len(request) for request in requests) == 1:
            return firsts.cpu()
        packed = _Packed.of(requests)
        out = model(
            input_ids=packed.ids.expand(choices, -1).to(device),
            attention_mask=packed.mask(prefixes.mask, model.dtype).to(device),
            position_ids=(prefixes.lengths[:, None] + packed.offset).to(device),
            use_cache=True,
            **{self._cache_keyword: _extendable_copy(prefixes.cache)},
        )
        logprobs = out.logits[:, :-1, :].float().log_softmax(dim=-1)
        following = packed.ids[1:].to(device).expand(choices, -1)
        picked = logprobs.gather(2, following[..., None]).squeeze(-1)
        continues = (packed.which[1:] == packed.which[:-1]).to(device)  # same request
        picked = picked.masked_fill(~continues, 0.0)
        rest = torch.zeros((choices, len(requests)), device=device)
        rest.index_add_(1, packed.which[1:].to(device), picked)
        return (firsts.to(device) + rest.T).cpu()


@dataclass(frozen=True)
class _Packed:
    """Requests one after another in one sequence: each token's request and place in it."""

    ids: torch.Tensor  # (tokens,)
    which: torch.Tensor  # (tokens,): the request each token belongs to
    offset: torch.Tensor  # (tokens,): its place in that request

    @classmethod
    def of(cls, requests: Sequence[list[int]]) -> _Packed:
        return cls(
            torch.tensor([token for request in requests for token in request]),
            torch.cat([torch.full((len(r),), i) for i, r in enumerate(requests)]),
            torch.cat([torch.arange(len(r)) for r in requests]),
        )

    def mask(self, prefix_mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        """(choices, 1, tokens, prefix + tokens), additive: a token sees its choice's real
        prefix tokens, and its own request's tokens up to itself."""
        choices, tokens = prefix_mask.shape[0], len(self.ids)
        own = (self.which[:, None] == self.which[None, :]) & (
            self.offset[None] <= self.offset[:, None]
        )
        seen = torch.cat(
            [
                prefix_mask.bool()[:, None, :].expand(choices, tokens, -1),
                own.expand(choices, tokens, tokens),
            ],
            dim=2,
        )
        blocked = torch.zeros(seen.shape, dtype=dtype).masked_fill(~seen, torch.finfo(dtype).min)
        return blocked[:, None]


def _extendable_copy(cache: Any) -> Any:
    """A cache the forward pass may extend while the prefixes' own stays as it is, for every
    later turn. Layers extend by concatenation into new tensors, so copying the layer objects
    is enough: the prefix tensors are shared, not duplicated (a deep copy is ~70 MB a turn for
    SmolLM2). The cached-versus-plain scoring test catches a version that extends in place."""
    extendable = copy.copy(cache)
    extendable.layers = [copy.copy(layer) for layer in cache.layers]
    return extendable


def _never_cancelled() -> None:
    """Routing is part of the turn: nothing calls it off on its own."""


def _cache_argument(model: torch.nn.Module) -> str:
    # transformers 5.24 renamed past_key_values to cache (the old name warns, then goes).
    return "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"


def _returned_cache(out: Any) -> Any:
    return out.cache if hasattr(out, "cache") else out.past_key_values


class ConstrainedRouter:
    """Studio's Router for chat models without tool calling (see the module docstring).

    The request alone is scored, not the history: a 135M model routes worse with more
    context. "make it darker" names no kind of piece: it wins the REVISE choice, and the
    studio finds the piece in focus and the tool that revises it.
    """

    def __init__(self, loaded: LoadedCausalLM, lane: Lane = ALONE) -> None:
        self._scorer = ChoiceScorer(loaded, lane)

    async def decide(
        self, history: Sequence[BaseMessage], text: str, tools: Sequence[Tool]
    ) -> Decision:
        scores = await self.scores(text, tools)
        choice = max(scores, key=scores.__getitem__)
        if choice in (ANSWER, REVISE):
            return Decision(choice)  # revising: the studio finds the piece and its tool
        tool = next(tool for tool in tools if tool.name == choice)
        return fill_args(tool, text)

    async def scores(self, text: str, tools: Sequence[Tool]) -> dict[str, float]:
        revisable = any(tool.revision is not None for tool in tools)
        served = [info for tool in tools for info in (tool.info, *tool.also_serves)]
        choices = [JUST_ANSWER, *([REVISE_FOCUS] if revisable else []), *served]
        return await asyncio.to_thread(self._scorer.scores, text, choices)


def fill_args(tool: Tool, text: str) -> Decision:
    """The tool's Args from the request, or a question when they do not validate."""
    try:
        return Decision(tool.name, args=tool.args.model_validate(read_words(tool, text)))
    except ValidationError as error:
        return Decision(tool.name, question=ask_about(tool, error))


def ask_about(tool: Tool, error: ValidationError) -> str:
    """One short question about the first thing that did not validate."""
    problem = error.errors(include_url=False)[0]
    field = str(problem["loc"][0]) if problem["loc"] else ""
    if not field and problem["type"] == "value_error":  # a whole-Args rule, worded for people
        return str(problem["ctx"]["error"])
    if field == tool.text_arg and problem["type"] in ("missing", "string_too_short"):
        return f"What should the {tool.name} be about?"
    info = tool.args.model_fields.get(field)
    about = f" ({info.description})" if info is not None and info.description else ""
    if problem["type"] == "missing":
        return f"To make the {tool.name} I need {field}{about}. What should it be?"
    reason = problem["msg"][0].lower() + problem["msg"][1:]
    if field == tool.text_arg:
        return f"That is too much for one {tool.name} request ({reason}). Could you shorten it?"
    return f"I can't use {field} {problem['input']} for the {tool.name}: {reason}. Which {field}?"
