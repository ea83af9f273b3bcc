"""The buffers a step reads and writes, at addresses that stay put for the whole clip (and,
on CUDA, for every clip a captured graph replays), and what one clip loads into them."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from transformers.models.musicgen.modeling_musicgen import MusicgenDecoder

from tools.music.decode.cache import DecodeCache


@dataclass(frozen=True)
class Start:
    """One clip's start: `sequence` and `pattern` (batch x codebooks, capacity), the first
    tokens and the delay pattern; `noise` (capacity, batch x codebooks, candidates) or None
    when greedy; the text encoder's `text_states` (rows, length, hidden) and `text_mask`."""

    sequence: torch.Tensor
    pattern: torch.Tensor
    noise: torch.Tensor | None
    text_states: torch.Tensor
    text_mask: torch.Tensor


@dataclass(frozen=True)
class DecodeState:
    """`position` is a one-element long tensor: the position whose tokens the next step reads."""

    sequence: torch.Tensor
    pattern: torch.Tensor
    position: torch.Tensor
    noise: torch.Tensor | None
    cache: DecodeCache

    @classmethod
    def allocate(cls, decoder: MusicgenDecoder, start: Start, text_capacity: int) -> DecodeState:
        states = start.text_states
        capacity = start.sequence.shape[1]
        cache = DecodeCache.allocate(
            decoder, states.shape[0], capacity, text_capacity, states.dtype, states.device
        )
        return cls(
            sequence=torch.empty_like(start.sequence),
            pattern=torch.empty_like(start.pattern),
            position=torch.zeros(1, dtype=torch.long, device=states.device),
            noise=None if start.noise is None else torch.empty_like(start.noise),
            cache=cache,
        )

    def load(self, decoder: MusicgenDecoder, start: Start) -> None:
        """Copy a clip's start in place; the self-attention cache needs no clearing, as a
        slot is written before the causal mask lets any step read it."""
        self.sequence.copy_(start.sequence)
        self.pattern.copy_(start.pattern)
        self.position.zero_()
        if self.noise is not None and start.noise is not None:
            self.noise.copy_(start.noise)
        self.cache.load_text(decoder, start.text_states, start.text_mask)
