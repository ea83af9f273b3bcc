"""tiny:chat, the random-weight chat model for tests: a seeded Llama with SmolLM2's tokenizer,
built once under the cache dir and loaded back like any real model. (The tiny vision and CLIP
models live beside their loaders in tools/models/vision.py, the image and music ones beside
their tools.)"""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerBase

from tools.models.cache import build_atomically
from tools.models.smollm2 import smollm2_tokenizer
from tools.models.specs import CHAT_ROLE, ModelRole

logger = logging.getLogger(__name__)

TINY_CHAT_CACHE_NAME = "tiny-chat"
TINY_CHAT_SEED = 0


def tiny_chat_config(tokenizer: PreTrainedTokenizerBase) -> LlamaConfig:
    """A Llama small enough to build in a second, with grouped-query attention like SmolLM2.

    Embeddings are untied (SmolLM2 ties them): with random tied weights the residual stream
    makes greedy decoding echo the last prompt token (a newline) forever, stripped to nothing;
    an independent output head gives replies that vary with the prompt.
    """
    return LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        # SmolLM2's own: a tool-calling prompt (the tools' schemas, ~3,000 tokens) fits.
        max_position_embeddings=8192,
        tie_word_embeddings=False,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )


def ensure_tiny_chat(cache_dir: Path, role: ModelRole = CHAT_ROLE) -> Path:
    """A seeded random-weight Llama saved once, so tiny:chat loads through from_pretrained
    like any real model and gives the same weights on every machine."""
    target = cache_dir / TINY_CHAT_CACHE_NAME
    if (target / "config.json").is_file():
        return target
    tokenizer = smollm2_tokenizer(cache_dir, role)
    logger.info("building the tiny random-weight chat model once in %s", target)

    def build(into: Path) -> None:
        # fork_rng: seed the weights without disturbing the caller's random state.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(TINY_CHAT_SEED)
            model = LlamaForCausalLM(tiny_chat_config(tokenizer))
        model.save_pretrained(into)
        tokenizer.save_pretrained(into)

    build_atomically(target, build)
    return target
