"""The codebook delay pattern, built by MusicGen's own decoder (build_delay_pattern_mask and
apply_delay_pattern_mask), so the loop offsets codebooks exactly as generate() does: codebook
k runs k steps behind codebook 0, and a clip of n frames takes n + codebooks - 1 steps."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from transformers.models.musicgen.modeling_musicgen import MusicgenForCausalLM

# Where the pattern leaves the choice to the model; anywhere else it forces its own token.
CHOSEN = -1


@dataclass(frozen=True)
class DelayPattern:
    """The pattern for one batch: `mask` is (batch x codebooks, length), a forced token
    (the start/pad token, or a prompt's code) or CHOSEN; positions before `given` are all
    forced, so the model's first free choice is at `given`."""

    mask: torch.Tensor
    given: int
    length: int

    @property
    def chosen_steps(self) -> int:
        return self.length - self.given


def delay_pattern(
    decoder: MusicgenForCausalLM, start_ids: torch.Tensor, steps: int, pad_token_id: int
) -> DelayPattern:
    """The pattern for `steps` new tokens after `start_ids` ((batch x codebooks, n): the
    start token, then any prompt's codes), with generate()'s max_length: n + steps."""
    length = start_ids.shape[-1] + steps
    given, mask = decoder.build_delay_pattern_mask(
        start_ids, pad_token_id=pad_token_id, max_length=length
    )
    return DelayPattern(mask=mask, given=given.shape[-1], length=length)


def padded_mask(pattern: DelayPattern, capacity: int, pad_token_id: int) -> torch.Tensor:
    """The mask widened to `capacity` positions (a CUDA graph's length bucket) with forced
    pad tokens past the clip's end, which the loop never reaches."""
    extra = capacity - pattern.length
    return torch.nn.functional.pad(pattern.mask, (0, extra), value=pad_token_id)


def codes_from(
    decoder: MusicgenForCausalLM,
    sequence: torch.Tensor,
    pattern: DelayPattern,
    pad_token_id: int,
) -> torch.Tensor:
    """The audio codes (batch, codebooks, frames) in a decoded sequence, as generate() reads
    them: the pattern applied once more, then its pad tokens dropped (the codebooks' offsets
    undone)."""
    ids = decoder.apply_delay_pattern_mask(sequence[:, : pattern.length], pattern.mask)
    codebooks = decoder.num_codebooks
    return ids[ids != pad_token_id].reshape(ids.shape[0] // codebooks, codebooks, -1)
