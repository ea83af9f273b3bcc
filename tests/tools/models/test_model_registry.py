"""The model registry: lazy per-role loading, shared instances, the memory budget and eviction,
clear messages for roles that cannot be had, settings, and `atelier models`."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from agent.config import Settings, SettingsError, StartupError, load_settings
from agent.factory import build_model_registry, open_agent
from tools.models.registry import LoadedModel, ModelRegistry, RegistryConfig
from tools.models.specs import ROLES, ModelKind, ModelRole, ModelUnavailable, role_specs
from tools.models.text import LoadedCausalLM, load_causal_lm
from tools.models.tiny import TINY_CHAT_CACHE_NAME
from tools.units import MIB

# Every role on the tiny profile: chat, poem and critique share tiny:chat.
TINY_SPECS = role_specs("tiny", cuda_available=False, overrides={})


class CountingLoader:
    """The real text loader, recording which specs it was asked to load."""

    def __init__(self) -> None:
        self.loads: list[str] = []
        self._lock = threading.Lock()

    def __call__(
        self, spec: str, *, cache_dir: Path, device: str, dtype: str, role: ModelRole
    ) -> LoadedModel:
        with self._lock:
            self.loads.append(spec)
        return load_causal_lm(spec, cache_dir=cache_dir, device=device, dtype=dtype, role=role)


@pytest.fixture
def loader() -> CountingLoader:
    return CountingLoader()


@pytest.fixture
def tiny_size(tiny_chat: LoadedCausalLM) -> int:
    return tiny_chat.memory_bytes()


@pytest.fixture
def three_text_models(
    tiny_chat: LoadedCausalLM, models_cache_dir: Path, tmp_path: Path
) -> dict[str, str]:
    """chat, poem and critique each on a spec of its own (links to the tiny chat model, so
    all three are the same size and cost no build)."""
    specs = {}
    for role in ("chat", "poem", "critique"):
        link = tmp_path / f"tiny-{role}"
        link.symlink_to(models_cache_dir / TINY_CHAT_CACHE_NAME)
        specs[role] = str(link)
    return specs


@pytest.fixture
def make_registry(models_cache_dir: Path, loader: CountingLoader) -> Callable[..., ModelRegistry]:
    def make(specs: Mapping[str, str] | None = None, budget_bytes: int = 0) -> ModelRegistry:
        config = RegistryConfig(
            specs={**TINY_SPECS, **(specs or {})},
            models_dir=models_cache_dir,
            device="cpu",
            dtype="float32",
            memory_budget_bytes=budget_bytes,
        )
        return ModelRegistry(config, loaders={ModelKind.TEXT: loader})

    return make


def _loaded_roles(registry: ModelRegistry) -> set[str]:
    return {row.role for row in registry.describe() if row.loaded}


# --- lazy loading and sharing ---------------------------------------------------------------


def test_nothing_loads_until_a_role_is_asked_for(
    make_registry: Callable[..., ModelRegistry],
    loader: CountingLoader,
    tiny_size: int,
    caplog: pytest.LogCaptureFixture,
) -> None:
    registry = make_registry()
    rows = registry.describe()
    assert [row.role for row in rows] == [
        "chat",
        "poem",
        "image",
        "music",
        "music_melody",
        "critique",
        "vision",
        "clip",
        "embedding",
    ]
    assert not any(row.loaded for row in rows)
    assert loader.loads == []

    with caplog.at_level(logging.INFO, logger="tools.models.registry"):
        chat = registry.get("chat")

    assert isinstance(chat, LoadedCausalLM)
    assert loader.loads == ["tiny:chat"]
    assert re.search(r"loaded chat model tiny:chat on cpu as float32 in \d+\.\d+ s", caplog.text)
    chat_row = next(row for row in registry.describe() if row.role == "chat")
    assert chat_row.loaded and chat_row.memory_bytes == tiny_size


def test_roles_with_the_same_spec_share_one_loaded_model(
    make_registry: Callable[..., ModelRegistry], loader: CountingLoader, tiny_size: int
) -> None:
    registry = make_registry()
    chat = registry.get("chat")
    assert registry.get("poem") is chat
    assert registry.get("critique") is chat
    assert loader.loads == ["tiny:chat"]
    assert registry.memory_used_bytes() == tiny_size
    assert _loaded_roles(registry) == {"chat", "poem", "critique"}


def test_callers_asking_at_the_same_time_share_one_load(
    make_registry: Callable[..., ModelRegistry], loader: CountingLoader
) -> None:
    registry = make_registry()
    start = threading.Barrier(4)
    results: list[LoadedModel] = []

    def ask(role: str) -> None:
        start.wait()
        results.append(registry.get(role))

    threads = [threading.Thread(target=ask, args=(r,)) for r in ("chat", "poem") * 2]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 4 and all(result is results[0] for result in results)
    assert loader.loads == ["tiny:chat"]


# --- the memory budget ----------------------------------------------------------------------


def test_the_least_recently_used_model_is_evicted_to_fit_the_budget(
    make_registry: Callable[..., ModelRegistry],
    loader: CountingLoader,
    three_text_models: dict[str, str],
    tiny_size: int,
    caplog: pytest.LogCaptureFixture,
) -> None:
    registry = make_registry(three_text_models, budget_bytes=int(2.5 * tiny_size))
    chat = registry.get("chat")
    first_poem = registry.get("poem")
    assert registry.get("chat") is chat  # chat is now used more recently than poem

    with caplog.at_level(logging.INFO, logger="tools.models.registry"):
        registry.get("critique")

    assert _loaded_roles(registry) == {"chat", "critique"}
    assert f"evicted model {three_text_models['poem']}" in caplog.text
    assert registry.memory_used_bytes() == 2 * tiny_size

    # Back again: poem loads anew, and chat is now the least recently used.
    assert registry.get("poem") is not first_poem
    assert _loaded_roles(registry) == {"poem", "critique"}
    assert loader.loads == [three_text_models[r] for r in ("chat", "poem", "critique", "poem")]


@pytest.mark.parametrize("kept_by", ["its lock held", "pinned"])
def test_a_model_in_use_or_pinned_is_not_evicted(
    make_registry: Callable[..., ModelRegistry],
    three_text_models: dict[str, str],
    tiny_size: int,
    kept_by: str,
) -> None:
    registry = make_registry(three_text_models, budget_bytes=int(1.5 * tiny_size))
    if kept_by == "pinned":
        chat = registry.pin("chat")
    else:
        chat = registry.get("chat")
        chat.lock.acquire()

    with pytest.raises(ModelUnavailable) as caught:
        registry.get("poem")

    message = str(caught.value)
    assert message.startswith(f"the poem model {three_text_models['poem']!r} cannot be loaded")
    assert "held by models in use or kept loaded" in message
    assert "set ATELIER_MODEL_MEMORY_BUDGET_MB to a larger number of MiB, or 0 for no limit" in (
        message
    )
    assert _loaded_roles(registry) == {"chat"}
    assert registry.memory_used_bytes() == tiny_size

    if kept_by == "pinned":
        return
    chat.lock.release()
    registry.get("poem")  # free to go now
    assert _loaded_roles(registry) == {"poem"}
    assert not chat.lock.locked(), "eviction must give the lock back"


def test_a_model_larger_than_the_whole_budget_is_unavailable(
    make_registry: Callable[..., ModelRegistry], tiny_size: int
) -> None:
    registry = make_registry(budget_bytes=tiny_size // 2)
    with pytest.raises(ModelUnavailable) as caught:
        registry.get("chat")
    needs = f"{tiny_size / MIB:.1f} MiB"
    budget = f"{tiny_size // 2 / MIB:.1f} MiB"
    assert f"(it needs {needs} and the model memory budget is {budget})" in str(caught.value)
    assert registry.memory_used_bytes() == 0
    assert _loaded_roles(registry) == set()


def test_without_a_budget_every_model_stays_loaded(
    make_registry: Callable[..., ModelRegistry], three_text_models: dict[str, str]
) -> None:
    registry = make_registry(three_text_models)
    for role in ("chat", "poem", "critique"):
        registry.get(role)
    assert _loaded_roles(registry) == {"chat", "poem", "critique"}


# --- roles that cannot be had ---------------------------------------------------------------


@pytest.mark.parametrize(("role", "kind"), [("image", "image"), ("music", "music")])
def test_a_role_without_a_loader_says_so_plainly(
    make_registry: Callable[..., ModelRegistry], loader: CountingLoader, role: str, kind: str
) -> None:
    registry = make_registry()
    with pytest.raises(ModelUnavailable) as caught:
        registry.get(role)
    setting = f"ATELIER_MODEL_{role.upper()}"
    assert str(caught.value) == (
        f"the {role} model 'tiny:{kind}' cannot be loaded (this version of atelier cannot load "
        f"{kind} models yet); {setting} chooses the model once a later version adds them"
    )
    assert loader.loads == []
    assert [row.loadable for row in registry.describe() if row.role == role] == [False]


def test_a_missing_model_names_the_setting_of_its_role(
    make_registry: Callable[..., ModelRegistry], tmp_path: Path
) -> None:
    missing = str(tmp_path / "no-such-model.gguf")
    registry = make_registry({"poem": missing})
    with pytest.raises(ModelUnavailable) as caught:
        registry.get("poem")
    assert str(caught.value).startswith(f"the poem model {missing!r} cannot be loaded (no such")
    assert "set ATELIER_MODEL_POEM to bundled:smollm2, tiny:chat" in str(caught.value)
    registry.get("chat")  # other roles are unaffected


def test_an_unknown_role_is_a_lookup_error(make_registry: Callable[..., ModelRegistry]) -> None:
    with pytest.raises(LookupError, match="no model role 'painting'"):
        make_registry().get("painting")


# --- profiles and settings ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("profile", "cuda", "image", "music"),
    [
        ("tiny", False, "tiny:image", "tiny:music"),
        ("embedded", False, "stabilityai/sd-turbo", "facebook/musicgen-small"),
        ("auto", True, "stabilityai/sdxl-turbo", "facebook/musicgen-small"),
    ],
)
def test_profiles_pick_a_model_for_every_role(
    profile: str, cuda: bool, image: str, music: str
) -> None:
    specs = role_specs(profile, cuda, overrides={})
    assert specs["poem"] == specs["critique"] == specs["chat"]
    assert (specs["image"], specs["music"]) == (image, music)


@pytest.fixture
def clean_settings_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in [name for name in os.environ if name.startswith("ATELIER_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("ATELIER_CONFIG", str(tmp_path / "atelier.toml"))


@pytest.mark.usefixtures("clean_settings_env")
def test_settings_override_each_roles_model_and_set_the_budget(tmp_path: Path) -> None:
    settings = load_settings(
        profile="tiny",
        data_dir=tmp_path,
        chat_model="bundled:smollm2",
        model_image="/models/sd",
        model_memory_budget_mb=64,
    )
    config = build_model_registry(settings).config
    assert config.specs == {
        "chat": "bundled:smollm2",
        "poem": "tiny:chat",
        "image": "/models/sd",
        "music": "tiny:music",
        "music_melody": "tiny:musicgen-melody",
        "critique": "tiny:chat",
        "vision": "tiny:vision",
        "clip": "tiny:clip",
        "embedding": "tiny:embedding",
    }
    assert config.memory_budget_bytes == 64 * MIB
    assert config.models_dir == tmp_path / "models"


@pytest.mark.usefixtures("clean_settings_env")
def test_a_negative_budget_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ATELIER_MODEL_MEMORY_BUDGET_MB", "-1")
    with pytest.raises(SettingsError, match="ATELIER_MODEL_MEMORY_BUDGET_MB='-1'"):
        load_settings()


@pytest.mark.usefixtures("clean_settings_env")
def test_every_role_names_a_setting_that_exists() -> None:
    assert Settings.model_fields.keys() >= {
        role.setting.removeprefix("ATELIER_").lower() for role in ROLES.values()
    }
    assert load_settings().model_overrides.keys() == ROLES.keys()


@pytest.mark.usefixtures("clean_settings_env")
async def test_the_agent_reports_a_missing_chat_model_as_before(tmp_path: Path) -> None:
    missing = str(tmp_path / "missing.gguf")
    settings = load_settings(data_dir=tmp_path, chat_model=missing)
    with pytest.raises(StartupError) as caught:
        async with open_agent(settings, upgrade_database=False):
            pass
    assert str(caught.value).startswith(f"the chat model {missing!r} cannot be loaded")
    assert "set ATELIER_CHAT_MODEL to" in str(caught.value)


# --- atelier models -------------------------------------------------------------------------


def test_atelier_models_lists_every_role_and_loads_nothing(
    base_env: dict[str, str], tmp_path: Path
) -> None:
    env = {**base_env, "ATELIER_PROFILE": "tiny", "ATELIER_MODEL_POEM": "/models/poet"}
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "models"], env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    rows = {line.split()[0]: line.split() for line in result.stdout.splitlines() if line}
    assert rows["chat"][:4] == ["chat", "tiny:chat", "not", "loaded"]
    assert rows["poem"][:2] == ["poem", "/models/poet"]
    assert rows["critique"][:2] == ["critique", "tiny:chat"]
    assert rows["image"][:4] == ["image", "tiny:image", "not", "loaded"]
    assert rows["music"][:4] == ["music", "tiny:music", "not", "loaded"]
    assert rows["music"][-1] == "ATELIER_MODEL_MUSIC"
    assert "profile: tiny" in result.stdout
    assert "device: cpu" in result.stdout or "device: cuda" in result.stdout
    assert not (tmp_path / "data" / "models").exists(), "a listing must not build or load models"
