"""Pytest plugin: offline models shared by the whole session.

Models are cached in a persistent directory (ATELIER_TEST_MODELS_DIR, else <repo>/data/test-models,
which git ignores), so the bundled SmolLM2 is converted from its GGUF once per machine rather than
once per run.
"""

from __future__ import annotations

import os

# Before anything imports huggingface_hub: it reads these once, at import.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from tools.models.registry import ModelRegistry, RegistryConfig  # noqa: E402
from tools.models.specs import role_specs  # noqa: E402
from tools.models.text import LoadedCausalLM, load_causal_lm  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[2]
MODELS_DIR_ENV = "ATELIER_TEST_MODELS_DIR"


@pytest.fixture(scope="session")
def models_cache_dir() -> Path:
    configured = os.environ.get(MODELS_DIR_ENV)
    path = Path(configured) if configured else REPO_ROOT / "data" / "test-models"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def smollm2(models_cache_dir: Path) -> LoadedCausalLM:
    """The real SmolLM2-135M-Instruct, in float32 on the CPU.

    float32 rather than auto: auto picks bfloat16 on CPUs with native bf16, and greedy text
    would then differ from machine to machine. float32 is also the dtype the GGUF is
    dequantised to, so this is the converted model exactly.
    """
    return load_causal_lm(
        "bundled:smollm2", cache_dir=models_cache_dir, device="cpu", dtype="float32"
    )


@pytest.fixture(scope="session")
def tiny_chat(models_cache_dir: Path) -> LoadedCausalLM:
    """The tiny random-weight Llama: built once per machine, then read back in well under
    a second. Fast tests use it; it does not need SmolLM2 loaded."""
    return load_causal_lm("tiny:chat", cache_dir=models_cache_dir, device="cpu", dtype="float32")


@pytest.fixture(scope="session")
def tiny_models(models_cache_dir: Path) -> ModelRegistry:
    """The tiny profile's models for every role, loaded on first use, on the CPU in float32
    so outputs are the same on every machine."""
    config = RegistryConfig(
        specs=role_specs("tiny", False, {}),
        models_dir=models_cache_dir,
        device="cpu",
        dtype="float32",
    )
    return ModelRegistry(config)
