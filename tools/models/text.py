"""The text loader: a chat-capable causal LM from a spec (the forms are in
tools/models/specs.py), ready to generate.

Built-in specs are the bundled SmolLM2 (tools/models/smollm2.py) and tiny:chat
(tools/models/tiny.py); a .gguf path is dequantised by transformers as it loads.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

import torch
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)

from tools.models.devices import device_for, module_bytes, resolve_dtype
from tools.models.smollm2 import ensure_smollm2_converted
from tools.models.sources import SpecForms, resolve_source
from tools.models.specs import BUNDLED_SMOLLM2, CHAT_ROLE, TINY_CHAT, ModelRole
from tools.models.tiny import ensure_tiny_chat

logger = logging.getLogger(__name__)

TEXT_FORMS = SpecForms(
    listing="bundled:smollm2, tiny:chat, a model directory, a .gguf file, or a hub id like "
    "org/name",
    builtins=MappingProxyType(
        {BUNDLED_SMOLLM2: ensure_smollm2_converted, TINY_CHAT: ensure_tiny_chat}
    ),
    gguf_files=True,
)


@dataclass
class LoadedCausalLM:
    """A causal LM ready to generate. Generation must hold `lock`: one model, one caller."""

    spec: str
    model: PreTrainedModel
    tokenizer: PreTrainedTokenizerBase
    device: torch.device
    dtype: torch.dtype
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def count_tokens(self, text: str) -> int:
        # No special tokens: callers budget plain text; the chat template adds its own.
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def memory_bytes(self) -> int:
        return module_bytes(self.model)


def load_causal_lm(
    spec: str,
    *,
    cache_dir: Path,
    device: str = "auto",
    dtype: str = "auto",
    role: ModelRole = CHAT_ROLE,
) -> LoadedCausalLM:
    """Load a chat-capable causal LM from a spec.

    Raises ModelUnavailable with a one-line reason when the spec cannot be had.
    """
    torch_device = device_for(spec, device, role)
    torch_dtype = resolve_dtype(dtype, torch_device)
    source = resolve_source(spec, role, cache_dir, TEXT_FORMS)
    logger.info("loading %s model %s on %s as %s", role.name, spec, torch_device, torch_dtype)
    try:
        tokenizer = AutoTokenizer.from_pretrained(source.path, gguf_file=source.gguf_file)
        model = AutoModelForCausalLM.from_pretrained(
            source.path, gguf_file=source.gguf_file, dtype=torch_dtype
        )
    except (OSError, ValueError) as exc:
        # OSError: files missing (or the hub unreachable); ValueError: not a causal LM, or a
        # GGUF transformers cannot read. Both are a bad spec, not a bug.
        raise role.unavailable(spec, source.describe_failure(exc)) from exc
    if tokenizer.chat_template is None:
        raise role.unavailable(spec, "its tokenizer has no chat template, so it cannot chat")
    if tokenizer.pad_token_id is None:
        # generate() pads with this; without one it warns on every call.
        tokenizer.pad_token = tokenizer.eos_token
    model.to(torch_device)
    model.eval()
    return LoadedCausalLM(
        spec=spec, model=model, tokenizer=tokenizer, device=torch_device, dtype=torch_dtype
    )
