"""Where a model runs and in what precision: the device and dtype settings resolved for this
machine, and the bytes a loaded model holds there (what the memory budget counts)."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

import torch

from tools.models.specs import ModelRole, ModelUnavailable


class DeviceUnavailable(ValueError):
    """An explicit device that this machine does not have."""


def device_for(spec: str, device: str, role: ModelRole) -> torch.device:
    """The device setting resolved for loading `spec`; ModelUnavailable names the setting."""
    try:
        return resolve_device(device)
    except DeviceUnavailable as exc:
        # The model is fine; the device setting is what the operator has to change.
        raise ModelUnavailable(
            spec, str(exc), role=role.name, setting="ATELIER_DEVICE", choices="auto or cpu"
        ) from exc


def resolve_device(device: str) -> torch.device:
    """`auto` is CUDA when torch sees a GPU, else the CPU; an explicit device is honoured."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    resolved = torch.device(device)
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise DeviceUnavailable(f"device {device!r} was asked for but torch sees no CUDA device")
    return resolved


def cpu_supports_bf16() -> bool:
    """Whether the CPU computes bfloat16 natively (AVX512-BF16 or AMX on x86, BF16 on ARM).

    Without it float32 is the safe choice: bfloat16 would cost precision for a speed-up the
    hardware cannot be counted on to give.
    torch.cpu.get_capabilities() (public API in torch 2.13) reports the same cpuinfo flags as
    /proc/cpuinfo, on x86 and ARM alike.
    """
    capabilities = torch.cpu.get_capabilities()
    return any(bool(capabilities.get(flag)) for flag in ("avx512_bf16", "amx_bf16", "bf16"))


_DTYPES: Mapping[str, torch.dtype] = MappingProxyType(
    {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
)


def resolve_dtype(dtype: str, device: torch.device) -> torch.dtype:
    """`auto`: bfloat16 where the hardware computes it natively, else float16 on CUDA and
    float32 on CPU. An explicit dtype is honoured even where it is slow."""
    if dtype != "auto":
        try:
            return _DTYPES[dtype]
        except KeyError:
            known = ", ".join(["auto", *_DTYPES])
            raise ValueError(f"unknown dtype {dtype!r}; expected one of {known}") from None
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.bfloat16 if cpu_supports_bf16() else torch.float32


def resolve_dtype_float32_on_cpu(dtype: str, device: torch.device) -> torch.dtype:
    """As resolve_dtype, but `auto` is float32 on a CPU: for convolution-heavy models (a
    diffusion UNet and VAE, EnCodec's convolutions and LSTMs) bfloat16 gains little there and
    costs precision."""
    if dtype == "auto" and device.type == "cpu":
        return torch.float32
    return resolve_dtype(dtype, device)


def module_bytes(module: torch.nn.Module) -> int:
    """Bytes held by a module's parameters and buffers (each shared tensor counted once):
    what the memory budget counts. Activations during generation come on top."""
    tensors = [*module.parameters(), *module.buffers()]
    return sum(tensor.numel() * tensor.element_size() for tensor in tensors)
