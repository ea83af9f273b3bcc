"""The decode loop: MusicGen's tokens for a batch of descriptions, step by step over a static
cache, as generate() makes them (the same tokens when greedy), without its per-step Python
work and host syncs. On CUDA each step is a replayed CUDA graph (runners.py); elsewhere the
same step runs eagerly."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from transformers import MusicgenForConditionalGeneration

from tools.music.decode.inputs import pad_token, start_ids, start_token, text_states
from tools.music.decode.pattern import CHOSEN, DelayPattern, codes_from, delay_pattern, padded_mask
from tools.music.decode.runners import LENGTH_BUCKET, bucketed, runner_for, uses_graphs
from tools.music.decode.sampling import Sampling, draw_noise
from tools.music.decode.state import Start
from tools.music.decode.step import DecoderStep

# Called after each step that chooses new tokens with (steps done, steps in all); may raise.
OnStep = Callable[[int, int], None]


@dataclass(frozen=True)
class Text:
    """The tokenised descriptions: (batch, length) ids and attention mask."""

    input_ids: torch.Tensor
    attention_mask: torch.Tensor


def decode_codes(
    model: MusicgenForConditionalGeneration,
    text: Text,
    steps: int,
    *,
    guidance: float,
    sampling: Sampling,
    generator: torch.Generator | Sequence[torch.Generator] | None = None,
    prompt_codes: torch.Tensor | None = None,
    on_step: OnStep | None = None,
    use_graphs: bool = True,
) -> torch.Tensor:
    """The audio codes (batch, codebooks, frames) of `steps` decoder steps after any prompt
    (mono prompt codes, (batch x codebooks, frames)). Call under torch.inference_mode.
    `generator` may be one per clip: each clip's sampling then follows its own seed.
    Guidance above 1 runs conditional and unconditional rows in one batch, as generate()."""
    guide = guidance if guidance > 1 else None
    states, mask = text_states(model, text.input_ids, text.attention_mask, guide is not None)
    batch = text.input_ids.shape[0]
    first = start_ids(model, batch, prompt_codes)
    pattern = delay_pattern(model.decoder, first, steps, start_token(model))
    positions = model.decoder.model.decoder.embed_positions.weights.shape[0]
    if pattern.length > positions:
        raise ValueError(f"{pattern.length} decoder positions is more than the model's {positions}")
    graphed = use_graphs and uses_graphs(states.device)
    # A graph is captured per length bucket; the eager loop needs the clip's length only.
    capacity = pattern.length
    if graphed:
        capacity = min(bucketed(pattern.length, LENGTH_BUCKET), positions)
    start = clip_start(model, pattern, capacity, states, mask, sampling, generator)
    step = DecoderStep(model, guide, sampling)
    runner = runner_for(model, step, start, (guide, sampling), graphed)
    for position in range(pattern.length - 1):
        runner.advance()
        chosen = position + 2 - pattern.given  # steps whose tokens the model chose so far
        if on_step is not None and chosen > 0:
            on_step(chosen, pattern.chosen_steps)
    return codes_from(model.decoder, runner.state.sequence, pattern, pad_token(model))


def clip_start(
    model: MusicgenForConditionalGeneration,
    pattern: DelayPattern,
    capacity: int,
    states: torch.Tensor,
    mask: torch.Tensor,
    sampling: Sampling,
    generator: torch.Generator | Sequence[torch.Generator] | None,
) -> Start:
    """The clip's first tokens (the pattern's forced ones; the start token where the model
    will choose, overwritten before it is read) and its sampling noise."""
    forced = padded_mask(pattern, capacity, start_token(model))
    noise = None
    if not sampling.greedy:
        candidates = sampling.candidates(model.decoder.config.vocab_size)
        noise = draw_noise(generator, capacity, forced.shape[0], candidates, states.device)
    return Start(
        sequence=torch.where(forced == CHOSEN, start_token(model), forced),
        pattern=forced,
        noise=noise,
        text_states=states,
        text_mask=mask,
    )
