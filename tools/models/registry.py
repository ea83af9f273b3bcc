"""The model registry: one loaded model per spec, loaded on first use, within a memory budget.

Tools ask for a role (`registry.get("poem")`) from worker threads; the registry maps the role
to its spec, loads that spec the first time anyone needs it, and hands the same instance to
every role that names the same spec. A caller uses a model under the model's own `lock`.

Memory is the bytes of each model's parameters and buffers. With a budget, a load that would
not fit first evicts the least recently used models that are neither pinned nor in use (their
lock held); if even that is not enough, the role is unavailable and the message names the
budget setting. A model's size is only known once it is loaded, so the first load of a spec
briefly sits beside the others before the registry makes room (or gives it up); later loads of
an evicted spec make room first, from the size remembered.

Eviction drops the registry's reference. A caller that got the model before it was evicted
keeps a working model; its memory is freed when that caller lets go.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Protocol

import torch

from tools.image.pipeline import load_image_pipeline
from tools.models.embedding import load_embedding
from tools.models.specs import ROLES, ModelKind, ModelRole, ModelUnavailable
from tools.models.text import load_causal_lm
from tools.models.vision import load_clip, load_vision
from tools.music.model import load_music_model
from tools.units import MIB

logger = logging.getLogger(__name__)

MEMORY_BUDGET_SETTING = "ATELIER_MODEL_MEMORY_BUDGET_MB"


class LoadedModel(Protocol):
    """What the registry needs of any loaded model (LoadedCausalLM is one)."""

    spec: str
    device: torch.device
    dtype: torch.dtype
    lock: threading.Lock

    def memory_bytes(self) -> int: ...


class Loader(Protocol):
    """Loads one spec for a role; raises ModelUnavailable when it cannot be had."""

    def __call__(
        self, spec: str, *, cache_dir: Path, device: str, dtype: str, role: ModelRole
    ) -> LoadedModel: ...


DEFAULT_LOADERS: Mapping[ModelKind, Loader] = MappingProxyType(
    {
        ModelKind.TEXT: load_causal_lm,
        ModelKind.IMAGE: load_image_pipeline,
        ModelKind.MUSIC: load_music_model,
        ModelKind.VISION: load_vision,
        ModelKind.CLIP: load_clip,
        ModelKind.EMBEDDING: load_embedding,
    }
)


@dataclass(frozen=True)
class RegistryConfig:
    """Which spec each role uses and how models are loaded and budgeted."""

    specs: Mapping[str, str]  # role name -> spec, for every role in ROLES
    models_dir: Path  # where converted and tiny models are cached
    device: str = "auto"
    dtype: str = "auto"
    memory_budget_bytes: int = 0  # 0: no limit
    # Settings a kind's loader reads besides the spec, as its `settings` argument (the image
    # loader's tiny decoder and fast path: Settings.tool_settings["image"]).
    loader_settings: Mapping[ModelKind, Mapping[str, Any]] = field(
        default_factory=lambda: MappingProxyType({})
    )

    def __post_init__(self) -> None:
        if self.memory_budget_bytes < 0:
            raise ValueError("memory_budget_bytes must be 0 (no limit) or more")


@dataclass(frozen=True)
class RoleStatus:
    """One row of `atelier models`."""

    role: str
    spec: str
    setting: str  # what changes the spec
    loadable: bool  # False: this version has no loader for the role's kind
    loaded: bool
    pinned: bool
    memory_bytes: int | None  # None until loaded once

    @property
    def memory_mib(self) -> float | None:
        return None if self.memory_bytes is None else self.memory_bytes / MIB


@dataclass(frozen=True)
class _Key:
    kind: ModelKind
    spec: str


@dataclass(eq=False)
class _Slot:
    """Everything the registry knows about one spec, loaded or not."""

    key: _Key
    # Held while this spec loads, so callers asking at the same time share one load.
    loading: threading.Lock = field(default_factory=threading.Lock)
    model: LoadedModel | None = None
    size_bytes: int | None = None  # kept after eviction: a reload can make room first
    pinned: bool = False


class ModelRegistry:
    """Role -> loaded model, lazily, shared across roles, within a memory budget.

    Thread-safe: `get` may be called from any number of worker threads at once.
    """

    def __init__(
        self,
        config: RegistryConfig,
        *,
        loaders: Mapping[ModelKind, Loader] = DEFAULT_LOADERS,
        roles: Mapping[str, ModelRole] = ROLES,
    ) -> None:
        missing = roles.keys() - config.specs.keys()
        if missing:
            raise ValueError(f"no spec for model roles: {', '.join(sorted(missing))}")
        self._config = config
        self._loaders = loaders
        self._roles = roles
        # Guards _slots and _loaded; never held while a model loads.
        self._lock = threading.Lock()
        self._slots: dict[_Key, _Slot] = {}
        self._loaded: OrderedDict[_Key, _Slot] = OrderedDict()  # least recently used first

    @property
    def config(self) -> RegistryConfig:
        return self._config

    def get(self, role: str) -> LoadedModel:
        """The role's model, loaded on first use. Raises ModelUnavailable with a message for
        end users when it cannot be had, and LookupError for a role that does not exist."""
        return self._acquire(role, pin=False)

    def pin(self, role: str) -> LoadedModel:
        """Like get, and never evicted afterwards: for a holder that keeps the model for the
        life of the process (the chat model), whose memory eviction could not free."""
        return self._acquire(role, pin=True)

    def memory_used_bytes(self) -> int:
        with self._lock:
            return sum(_size(slot) for slot in self._loaded.values())

    def describe(self) -> list[RoleStatus]:
        """A row per role, loading nothing."""
        rows = []
        with self._lock:
            for name, role in self._roles.items():
                spec = self._config.specs[name]
                slot = self._slots.get(_Key(role.kind, spec))
                rows.append(
                    RoleStatus(
                        role=name,
                        spec=spec,
                        setting=role.setting,
                        loadable=role.kind in self._loaders,
                        loaded=slot is not None and slot.model is not None,
                        pinned=slot is not None and slot.model is not None and slot.pinned,
                        memory_bytes=slot.size_bytes if slot is not None else None,
                    )
                )
        return rows

    # --- loading ----------------------------------------------------------------------------

    def _acquire(self, role_name: str, *, pin: bool) -> LoadedModel:
        role, spec = self._role_and_spec(role_name)
        loader = self._loader_for(role, spec)
        slot = self._slot(_Key(role.kind, spec))
        with slot.loading:
            with self._lock:
                if slot.model is not None:
                    self._loaded.move_to_end(slot.key)
                    slot.pinned = slot.pinned or pin
                    return slot.model
                # Known from an earlier load: make room before loading, not after.
                evicted = slot.size_bytes is not None and self._make_room(
                    slot.size_bytes, role, spec
                )
            if evicted:
                _return_freed_memory()
            model = self._load(loader, role, spec)
            size = model.memory_bytes()
            with self._lock:
                slot.size_bytes = size
                # Others may have loaded meanwhile, or this was a first load of unknown size.
                evicted = self._make_room(size, role, spec)
                slot.model = model
                slot.pinned = pin
                self._loaded[slot.key] = slot
            if evicted:
                _return_freed_memory()
            return model

    def _role_and_spec(self, role_name: str) -> tuple[ModelRole, str]:
        try:
            role = self._roles[role_name]
        except KeyError:
            known = ", ".join(self._roles)
            raise LookupError(f"no model role {role_name!r}; roles are {known}") from None
        return role, self._config.specs[role_name]

    def _loader_for(self, role: ModelRole, spec: str) -> Loader:
        try:
            return self._loaders[role.kind]
        except KeyError:
            # Say so rather than load something else: another spec would not help either.
            raise ModelUnavailable(
                spec,
                f"this version of atelier cannot load {role.kind} models yet",
                role=role.name,
                setting=role.setting,
                remedy=f"{role.setting} chooses the model once a later version adds them",
            ) from None

    def _slot(self, key: _Key) -> _Slot:
        with self._lock:
            return self._slots.setdefault(key, _Slot(key))

    def _load(self, loader: Loader, role: ModelRole, spec: str) -> LoadedModel:
        started = time.monotonic()
        extra = self._config.loader_settings.get(role.kind)
        model = loader(
            spec,
            cache_dir=self._config.models_dir,
            device=self._config.device,
            dtype=self._config.dtype,
            role=role,
            **({} if extra is None else {"settings": extra}),
        )
        logger.info(
            "loaded %s model %s on %s as %s in %.2f s (%.1f MiB)",
            role.name,
            spec,
            model.device,
            str(model.dtype).removeprefix("torch."),
            time.monotonic() - started,
            model.memory_bytes() / MIB,
        )
        return model

    # --- the memory budget ------------------------------------------------------------------

    def _make_room(self, needed: int, role: ModelRole, spec: str) -> bool:
        """Evict least recently used models until `needed` more bytes fit, and say whether
        any were. The caller holds self._lock. Evicts nothing and raises ModelUnavailable
        when even evicting every candidate would not be enough."""
        budget = self._config.memory_budget_bytes
        if budget == 0:
            return False
        used = sum(_size(slot) for slot in self._loaded.values())
        if used + needed <= budget:
            return False
        # Taking a model's lock without waiting proves no one is using it right now, and
        # keeps anyone from starting to until it is dropped.
        victims: list[tuple[_Slot, LoadedModel]] = []
        for slot in self._loaded.values():  # least recently used first
            if used + needed <= budget:
                break
            model = slot.model
            if slot.pinned or model is None or not model.lock.acquire(blocking=False):
                continue
            victims.append((slot, model))
            used -= _size(slot)
        if used + needed > budget:
            for _slot, model in victims:
                model.lock.release()
            raise _over_budget(role, spec, needed, budget, kept=used)
        for slot, model in victims:
            logger.info(
                "evicted model %s (%.1f MiB, least recently used) to make room for %s",
                slot.key.spec,
                _size(slot) / MIB,
                spec,
            )
            del self._loaded[slot.key]
            slot.model = None
            model.lock.release()
        return bool(victims)


def _size(slot: _Slot) -> int:
    return slot.size_bytes or 0


def _mib(size: int) -> str:
    return f"{size / MIB:.1f} MiB"


def _over_budget(
    role: ModelRole, spec: str, needed: int, budget: int, kept: int
) -> ModelUnavailable:
    reason = f"it needs {_mib(needed)} and the model memory budget is {_mib(budget)}"
    if kept:
        reason += f", {_mib(kept)} of it held by models in use or kept loaded"
    return ModelUnavailable(
        spec,
        reason,
        role=role.name,
        setting=MEMORY_BUDGET_SETTING,
        choices="a larger number of MiB, or 0 for no limit",
    )


def _return_freed_memory() -> None:
    # Models hold reference cycles (modules <-> hooks), so refcounting alone may not free
    # them; and CUDA keeps freed blocks cached for this process unless told to return them.
    gc.collect()
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.empty_cache()
