"""How much working memory an image run may take, and which savings it needs to fit.

Settings keys (the tool's settings): `cpu_offload`, `attention_slicing`, `vae_tiling` and
`memory_headroom_mb`; `plan_memory` turns them and a run's size into a MemoryPlan that
LoadedImagePipeline.prepare switches on (tools/image/loaded.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from tools.units import MIB

# Decoding a latent to pixels holds about this many values per output pixel at its peak (the
# VAE decoder's last blocks run 128 channels at full resolution, several tensors alive at once).
# A rough figure, on the safe side; bench/image.py prints the measured peak beside it.
DECODE_VALUES_PER_PIXEL = 640


@dataclass(frozen=True)
class MemoryOptions:
    """How much working memory a run may take, from the tool's settings.

    Settings keys: `cpu_offload` (bool: keep weights in RAM and move each model to the GPU
    only while it runs), `attention_slicing` and `vae_tiling` ("auto", "on" or "off"), and
    `memory_headroom_mb` (working memory a run may use beyond the weights; 0: the GPU's free
    memory, and no limit on a CPU).
    """

    cpu_offload: bool = False
    attention_slicing: Literal["auto", "on", "off"] = "auto"
    vae_tiling: Literal["auto", "on", "off"] = "auto"
    headroom_bytes: int = 0

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> MemoryOptions:
        return cls(
            cpu_offload=bool(settings.get("cpu_offload", False)),
            attention_slicing=_switch(settings.get("attention_slicing", "auto")),
            vae_tiling=_switch(settings.get("vae_tiling", "auto")),
            headroom_bytes=int(float(settings.get("memory_headroom_mb", 0)) * MIB),
        )


def _switch(value: Any) -> Literal["auto", "on", "off"]:
    """A setting given as auto/on/off, or as a bool (TOML `true` means on)."""
    text = ("on" if value else "off") if isinstance(value, bool) else str(value).lower()
    if text not in ("auto", "on", "off"):
        raise ValueError(f"expected auto, on or off, not {value!r}")
    return text  # type: ignore[return-value]


@dataclass(frozen=True)
class MemoryPlan:
    attention_slicing: bool = False
    vae_slicing: bool = False
    vae_tiling: bool = False


def plan_memory(
    options: MemoryOptions,
    *,
    width: int,
    height: int,
    batch: int,
    value_bytes: int,
    room: int | None,
) -> MemoryPlan:
    """Which savings a run needs. `room` is the working memory available (None: unlimited).

    Attention slicing is only ever switched on when asked for: with PyTorch 2's fused
    attention (which diffusers uses by default) the attention matrix is never materialised,
    so slicing would only swap the fused kernel for a slower one without saving memory.
    """
    one = width * height * DECODE_VALUES_PER_PIXEL * value_bytes
    auto_tiling = room is not None and one > room
    return MemoryPlan(
        attention_slicing=options.attention_slicing == "on",
        vae_slicing=room is not None and batch > 1 and one * batch > room,
        vae_tiling=options.vae_tiling == "on" or (options.vae_tiling == "auto" and auto_tiling),
    )
