"""The constrained sampling loop, as scheduler work: several jobs' candidate rows in one
batch through the model with a KV cache, each row drawing from its own torch.Generator.

Row r of a job is seeded with the job's seed + r, and left padding is masked with positions
taken from the mask, so a row writes the same poem batched as alone. At each step a row's
likeliest TOP_K tokens (and the tokens that spell a fitting rhyme, and the newline) are
checked against its state (rows.py); if none fits, the rest of the tokens that could go in
a line at all (English or Han, tokens.py) are tried in order of likelihood; a row that no
token fits stops there (its poem then fails the checker, and the caller sees that honestly).
Among the allowed tokens the row samples with temperature and top-p. Logits past the
tokenizer's vocabulary (Qwen2 pads its embedding matrix) are never candidates.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy
import torch

from tools.models.text_batches import Sampling as TextSampling
from tools.models.text_batches import TextModel, nucleus
from tools.poem.constrained.lexicon import EnglishWords
from tools.poem.constrained.rows import Row, ToneOf
from tools.poem.constrained.spec import PoemSpec
from tools.poem.constrained.tokens import TokenTable, token_table
from tools.scheduling.work import OnStep, Work

KIND = "poem-constrained"
TOP_K = 64
FALLBACK_CHUNK = 1024
# Tokens a line may take at most (a word can be several tokens; a Han character up to 3).
TOKENS_PER_UNIT = 4


@dataclass(frozen=True)
class Sampling:
    temperature: float = 0.8
    top_p: float = 0.95
    top_k: int = TOP_K


@dataclass(frozen=True, eq=False)
class Job:
    """One job: its prompt's token ids, how many candidate rows, their seed, and the poem
    they write. `on_line(line, lines)` is told which line the job's slowest row writes."""

    ids: tuple[int, ...]
    count: int
    seed: int
    spec: PoemSpec
    tone_of: ToneOf = None
    on_line: Callable[[int, int], None] = lambda _line, _lines: None


def constrained_work(
    text_model: TextModel, job: Job, sampling: Sampling, on_step: OnStep
) -> Work[Job, list[str]]:
    """The job as scheduler work: its rows' poems, one string per row."""
    return Work(
        model=text_model.model,
        kind=KIND,
        item=job,
        run=lambda jobs, each_step: write_batch(text_model, jobs, sampling, each_step),
        shape=sampling,
        size=job.count,
        on_step=on_step,
    )


def write_batch(
    text_model: TextModel, jobs: Sequence[Job], sampling: Sampling, on_step: OnStep
) -> list[list[str]]:
    table = token_table(text_model.tokenizer)
    words = _english_words(text_model.tokenizer, table)
    rows = [Row(job.spec, table, words, job.tone_of) for job in jobs for _ in range(job.count)]
    seeds = [job.seed + r for job in jobs for r in range(job.count)]
    owners = [j for j, job in enumerate(jobs) for _ in range(job.count)]
    most = max(_token_budget(job.spec) for job in jobs)
    device = text_model.device
    with text_model.lock, torch.inference_mode():
        generators = [torch.Generator("cpu").manual_seed(seed) for seed in seeds]
        ids, mask = _left_padded([jobs[o].ids for o in owners], table.newline)
        ids, mask = ids.to(device), mask.to(device)
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        out = text_model.model(
            input_ids=ids,
            attention_mask=mask,
            position_ids=positions,
            use_cache=True,
            logits_to_keep=1,
        )
        shown = [-1] * len(jobs)
        for step in range(most):
            _report_lines(jobs, rows, owners, shown)
            on_step(step, most)
            if all(row.done for row in rows):
                break
            logits = out.logits[:, -1, : len(table.pieces)].float().cpu()
            chosen = [
                _choose(row, logits[r], generators[r], sampling) if not row.done else table.newline
                for r, row in enumerate(rows)
            ]
            mask = torch.cat([mask, mask.new_ones((len(rows), 1))], dim=1)
            positions = positions[:, -1:] + 1
            out = text_model.model(
                input_ids=torch.tensor(chosen, device=device)[:, None],
                attention_mask=mask,
                position_ids=positions,
                cache=out.cache,
                use_cache=True,
                logits_to_keep=1,
            )
    poems = [row.poem() for row in rows]
    return [[p for p, o in zip(poems, owners, strict=True) if o == j] for j in range(len(jobs))]


def _choose(row: Row, logits: torch.Tensor, generator: torch.Generator, sampling: Sampling) -> int:
    """A token the row allows, sampled; the row is marked stuck where none is."""
    top = logits.topk(sampling.top_k).indices.tolist()
    allowed = [t for t in dict.fromkeys([*top, *row.extra_candidates()]) if row.allows(t)]
    if not allowed:
        allowed = _first_allowed(row, logits)
    if not allowed:
        row.stuck = True
        return row.table.newline
    scores = logits[torch.tensor(allowed)]
    probabilities = nucleus(
        scores[None, :], TextSampling(temperature=sampling.temperature, top_p=sampling.top_p)
    )
    token = allowed[int(torch.multinomial(probabilities[0], 1, generator=generator))]
    row.take(token)
    return token


def _first_allowed(row: Row, logits: torch.Tensor) -> list[int]:
    """The likeliest chunk of the line's candidates holding any token the row allows (the
    rest of the vocabulary could not go on with the line: rows.py line_candidates). Sorted
    in numpy, one thread: torch's sort waits on its thread pool on a busy machine."""
    candidates = row.line_candidates()
    order = candidates[numpy.argsort(-logits.numpy()[candidates], kind="stable")].tolist()
    for start in range(0, len(order), FALLBACK_CHUNK):
        found = [t for t in order[start : start + FALLBACK_CHUNK] if row.allows(t)]
        if found:
            return found
    return []


def _report_lines(jobs: Sequence[Job], rows: Sequence[Row], owners: list[int], shown: list[int]):
    for j, job in enumerate(jobs):
        own = [row for row, o in zip(rows, owners, strict=True) if o == j]
        total = len(job.spec.to_write())
        line = min(min(row.written for row in own) + 1, total)
        if line != shown[j]:
            shown[j] = line
            job.on_line(line, total)


def _token_budget(spec: PoemSpec) -> int:
    slots = [spec.slots[i] for i in spec.to_write()]
    return sum(TOKENS_PER_UNIT * slot.window[1] + 4 for slot in slots)


def _left_padded(prompts: Sequence[tuple[int, ...]], pad: int) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(p) for p in prompts)
    ids = torch.full((len(prompts), width), pad, dtype=torch.long)
    mask = torch.zeros((len(prompts), width), dtype=torch.long)
    for row, prompt in enumerate(prompts):
        ids[row, width - len(prompt) :] = torch.tensor(prompt)
        mask[row, width - len(prompt) :] = 1
    return ids, mask


_WORDS: dict[int, EnglishWords] = {}


def _english_words(tokenizer: Any, table: TokenTable) -> EnglishWords:
    """The dictionary's words and the vocabulary's whole-word tokens (" glimmer"), once per
    tokenizer."""
    key = id(table)
    if key not in _WORDS:
        whole: list[str] = []
        common: list[str] = []
        for piece in table.pieces:
            text = piece.decode(errors="ignore")
            if text.startswith(" ") and text[1:].isascii() and text[1:].isalpha():
                common.append(text[1:].lower())
            if (
                text.startswith(" ")
                and len(text) >= 5
                and text[1:].isascii()
                and text[1:].isalpha()
                and text[1:].islower()
            ):
                whole.append(text[1:])
        _WORDS[key] = EnglishWords(whole, common)
    return _WORDS[key]
