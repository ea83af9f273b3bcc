"""In-process chat generation on CUDA: a static KV cache and torch.compile of the decode step.

transformers' generate() compiles the model's forward by itself once the cache is static and
the model is on CUDA (generation_config.compile_config; "reduce-overhead" mode, CUDA graphs).
A static cache is sized per call from the prompt, and each new size is a new graph, so its
size is given a floor that covers every turn (the context budget, a reply and the tool
listing): one shape, compiled once, at the warm-up in agent/factory.py rather than on a
person's first message. On the CPU nothing changes (compiling there costs more than it saves).
ATELIER_CHAT_COMPILE=false turns it off. Not run on these CPU-only machines: see the README.
"""

from __future__ import annotations

from typing import Any

import torch
from transformers import CompileConfig

# Room for the tool listing and the template's markers beyond the context budget and reply.
TEMPLATE_SLACK_TOKENS = 1024
# Sizes are rounded up to this, as CUDA kernels favour multiples of it.
CACHE_ROUNDING = 256


def compiled_generation(
    device: torch.device, *, enabled: bool, cache_tokens: int
) -> dict[str, Any]:
    """generate() keyword arguments for a static, compiled decode on CUDA; {} elsewhere."""
    if not enabled or device.type != "cuda":
        return {}
    floor = -(-(cache_tokens + TEMPLATE_SLACK_TOKENS) // CACHE_ROUNDING) * CACHE_ROUNDING
    return {
        "cache_implementation": "static",
        "max_cache_len": floor,
        "compile_config": CompileConfig(fullgraph=False, dynamic=False, mode="reduce-overhead"),
    }
