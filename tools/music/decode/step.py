"""One decoder step over fixed buffers: read the tokens at `position`, run MusicGen's own
decoder layers (their weights, our attention over the static cache), guide, choose, apply
the delay pattern, write the tokens at position + 1 and advance. Nothing in a step reads a
tensor's value on the host, so on CUDA the whole step is captured once and replayed."""

from __future__ import annotations

import torch
from torch.nn import functional
from transformers import MusicgenForConditionalGeneration
from transformers.models.musicgen.modeling_musicgen import MusicgenAttention, MusicgenDecoderLayer

from tools.music.decode.cache import LayerCache, heads_of
from tools.music.decode.pattern import CHOSEN
from tools.music.decode.sampling import Sampling, choose, guided
from tools.music.decode.state import DecodeState


class DecoderStep:
    """The step for one model, guidance and sampling rule; call it with a DecodeState."""

    def __init__(
        self, model: MusicgenForConditionalGeneration, guidance: float | None, sampling: Sampling
    ) -> None:
        self._lm = model.decoder  # MusicgenForCausalLM: the codebooks' heads
        self._decoder = model.decoder.model.decoder  # MusicgenDecoder: embeddings and layers
        self._guidance = guidance
        self._sampling = sampling

    def __call__(self, state: DecodeState) -> None:
        hidden = self._embed(state)
        self_mask = state.cache.causal_mask(state.position)
        for layer, cache in zip(self._decoder.layers, state.cache.layers, strict=True):
            hidden = self._layer(layer, cache, hidden, state, self_mask)
        hidden = self._decoder.layer_norm(hidden)
        # (rows, codebooks, 1, vocab) -> (rows x codebooks, vocab), as the model reshapes it.
        logits = torch.stack([head(hidden) for head in self._lm.lm_heads], dim=1)
        logits = logits.reshape(-1, logits.shape[-1]).float()
        if self._guidance is not None:
            logits = guided(logits, self._guidance)
        noise = None if state.noise is None else state.noise.index_select(0, state.position)[0]
        tokens = choose(logits, self._sampling, noise)
        following = state.position + 1
        forced = state.pattern.index_select(1, following).squeeze(1)
        tokens = torch.where(forced == CHOSEN, tokens, forced)
        state.sequence.index_copy_(1, following, tokens.unsqueeze(1))
        state.position.add_(1)

    def _embed(self, state: DecodeState) -> torch.Tensor:
        codebooks = self._decoder.num_codebooks
        tokens = state.sequence.index_select(1, state.position).view(-1, codebooks)
        if self._guidance is not None:  # the unconditional half reads the same tokens
            tokens = tokens.repeat(2, 1)
        embeds = sum(self._decoder.embed_tokens[k](tokens[:, k]) for k in range(codebooks))
        positions = self._decoder.embed_positions.weights.index_select(0, state.position)
        return (embeds + positions).unsqueeze(1)  # (rows, 1, hidden)

    def _layer(
        self,
        layer: MusicgenDecoderLayer,
        cache: LayerCache,
        hidden: torch.Tensor,
        state: DecodeState,
        self_mask: torch.Tensor,
    ) -> torch.Tensor:
        """MusicgenDecoderLayer.forward in eval mode, with the cache's keys and values."""
        attended = _attend_self(
            layer.self_attn, layer.self_attn_layer_norm(hidden), cache, state.position, self_mask
        )
        hidden = hidden + attended
        query = layer.encoder_attn_layer_norm(hidden)
        hidden = hidden + _attend(
            layer.encoder_attn, query, cache.text_keys, cache.text_values, state.cache.text_mask
        )
        feed = layer.fc2(layer.activation_fn(layer.fc1(layer.final_layer_norm(hidden))))
        return hidden + feed


def _attend_self(
    attention: MusicgenAttention,
    hidden: torch.Tensor,
    cache: LayerCache,
    position: torch.Tensor,
    mask: torch.Tensor,
) -> torch.Tensor:
    cache.keys.index_copy_(2, position, heads_of(attention, attention.k_proj(hidden)))
    cache.values.index_copy_(2, position, heads_of(attention, attention.v_proj(hidden)))
    return _attend(attention, hidden, cache.keys, cache.values, mask)


def _attend(
    attention: MusicgenAttention,
    hidden: torch.Tensor,
    keys: torch.Tensor,
    values: torch.Tensor,
    mask: torch.Tensor,
) -> torch.Tensor:
    query = heads_of(attention, attention.q_proj(hidden))
    out = functional.scaled_dot_product_attention(
        query, keys, values, attn_mask=mask, scale=attention.scaling
    )
    return attention.out_proj(out.transpose(1, 2).reshape(*hidden.shape[:-1], -1))
