"""What the loop starts from, prepared as generate() prepares it: the text encoder's output
with the unconditional half appended for guidance (zeros, masked), and the decoder's start
ids, the start token then any audio prompt's codes."""

from __future__ import annotations

import torch
from transformers import MusicgenForConditionalGeneration


def text_states(
    model: MusicgenForConditionalGeneration,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    guided: bool,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The encoder states the decoder attends to (rows, length, hidden) and their mask: as
    generate()'s _prepare_text_encoder_kwargs_for_generation, then the model's forward
    (projection when the widths differ, padding zeroed)."""
    states = model.text_encoder(input_ids=input_ids, attention_mask=attention_mask)
    states = states.last_hidden_state
    if guided:
        states = torch.cat([states, torch.zeros_like(states)], dim=0)
        attention_mask = torch.cat([attention_mask, torch.zeros_like(attention_mask)], dim=0)
    widths_differ = model.text_encoder.config.hidden_size != model.decoder.config.hidden_size
    if widths_differ and model.decoder.config.cross_attention_hidden_size is None:
        states = model.enc_to_dec_proj(states)
    return states * attention_mask[..., None], attention_mask


def start_ids(
    model: MusicgenForConditionalGeneration, batch: int, prompt_codes: torch.Tensor | None
) -> torch.Tensor:
    """(batch x codebooks, 1 + prompt frames): the decoder start token, then the prompt."""
    rows = batch * model.decoder.num_codebooks
    device = model.decoder.device
    start = torch.full((rows, 1), start_token(model), dtype=torch.long, device=device)
    return start if prompt_codes is None else torch.cat([start, prompt_codes], dim=-1)


def start_token(model: MusicgenForConditionalGeneration) -> int:
    config = model.generation_config
    token = config.decoder_start_token_id
    return int(config.bos_token_id if token is None else token)


def pad_token(model: MusicgenForConditionalGeneration) -> int:
    """The token dropped from the decoded sequence to undo the delay pattern, as generate()."""
    token = model.generation_config.pad_token_id
    return start_token(model) if token is None else int(token)


def prompt_codes(
    model: MusicgenForConditionalGeneration,
    input_values: torch.Tensor,
    padding_mask: torch.Tensor | None,
) -> tuple[torch.Tensor, list[torch.Tensor | None]]:
    """A mono audio prompt's codes (batch x codebooks, frames) and EnCodec's scales."""
    encoded = model.audio_encoder.encode(input_values=input_values, padding_mask=padding_mask)
    codes = encoded.audio_codes  # (chunks, batch, codebooks, frames)
    if codes.shape[0] != 1:
        raise ValueError("the audio prompt must be encoded in one chunk (chunk_length=None)")
    batch, codebooks, frames = codes.shape[1:]
    scales = encoded.audio_scales
    return codes[0].reshape(batch * codebooks, frames), scales
