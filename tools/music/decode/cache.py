"""The decoder's attention state for one batch at fixed addresses: a static self-attention
key/value cache preallocated to the clip's length (or its CUDA-graph bucket), and the
cross-attention keys and values of the text, computed once per clip from the encoder's
output instead of once per step."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from transformers.models.musicgen.modeling_musicgen import MusicgenAttention, MusicgenDecoder


@dataclass(frozen=True)
class LayerCache:
    keys: torch.Tensor  # (rows, heads, capacity, head_dim)
    values: torch.Tensor
    text_keys: torch.Tensor  # (rows, heads, text_length, head_dim)
    text_values: torch.Tensor


@dataclass(frozen=True)
class DecodeCache:
    layers: tuple[LayerCache, ...]
    # Additive masks: 0 where attention may look, the dtype's minimum where it may not.
    text_mask: torch.Tensor  # (rows, 1, 1, text_length)
    slots: torch.Tensor  # (capacity,): 0, 1, 2 ... to build the causal mask from a position

    @property
    def capacity(self) -> int:
        return self.slots.shape[0]

    @classmethod
    def allocate(
        cls,
        decoder: MusicgenDecoder,
        rows: int,
        capacity: int,
        text_length: int,
        dtype: torch.dtype,
        device: torch.device,
    ) -> DecodeCache:
        """Zeros, not empty memory: masked slots are multiplied by a zero weight, and a NaN
        left in memory would survive that."""
        attention = decoder.layers[0].self_attn
        heads, width = attention.num_heads, attention.head_dim

        def zeros(length: int) -> torch.Tensor:
            return torch.zeros((rows, heads, length, width), dtype=dtype, device=device)

        layers = tuple(
            LayerCache(zeros(capacity), zeros(capacity), zeros(text_length), zeros(text_length))
            for _ in decoder.layers
        )
        text_mask = torch.zeros((rows, 1, 1, text_length), dtype=dtype, device=device)
        slots = torch.arange(capacity, device=device)
        return cls(layers=layers, text_mask=text_mask, slots=slots)

    def load_text(self, decoder: MusicgenDecoder, states: torch.Tensor, mask: torch.Tensor) -> None:
        """Each layer's cross-attention keys and values of `states` (rows, length, hidden),
        written in place; slots past the text's length (a graph's bucket) are masked."""
        length = states.shape[1]
        self.text_mask.fill_(torch.finfo(self.text_mask.dtype).min)
        self.text_mask[:, 0, 0, :length].masked_fill_(mask.bool(), 0.0)
        for layer, cache in zip(decoder.layers, self.layers, strict=True):
            attention: MusicgenAttention = layer.encoder_attn
            cache.text_keys.zero_()
            cache.text_values.zero_()
            cache.text_keys[:, :, :length].copy_(heads_of(attention, attention.k_proj(states)))
            cache.text_values[:, :, :length].copy_(heads_of(attention, attention.v_proj(states)))

    def causal_mask(self, position: torch.Tensor) -> torch.Tensor:
        """(1, 1, 1, capacity): the slots up to `position` (a one-element device tensor)."""
        blocked = torch.finfo(self.text_mask.dtype).min
        mask = torch.where(self.slots <= position, 0.0, blocked).to(self.text_mask.dtype)
        return mask.view(1, 1, 1, -1)


def heads_of(attention: MusicgenAttention, projected: torch.Tensor) -> torch.Tensor:
    """(rows, length, hidden) as (rows, heads, length, head_dim), as MusicgenAttention splits it."""
    rows, length = projected.shape[:2]
    return projected.view(rows, length, -1, attention.head_dim).transpose(1, 2)
