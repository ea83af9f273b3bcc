"""`atelier worker` put together: its models and tools from the same Settings as the bot
(agent/factory.py) and its device named; `serve` (agent/scaleout/worker.py) runs it."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from agent.config import Settings, SettingsError
from agent.factory import build_model_registry, job_limits
from agent.jobs import Jobs
from agent.scaleout.setup import transport_from
from agent.scaleout.subjects import KINDS, JobKind, job_kind
from agent.scaleout.worker import Worker, serve, worker_limits
from tools.lineup import creative_tools
from tools.models.devices import DeviceUnavailable, resolve_device


def parse_kinds(text: str) -> tuple[JobKind, ...]:
    """The job kinds in "image,music"; SettingsError (one line) for a kind there is not."""
    kinds = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [kind for kind in kinds if kind not in KINDS]
    if unknown or not kinds:
        raise SettingsError(
            f"unknown job kind {', '.join(unknown) or text!r}: --kinds takes {','.join(KINDS)}"
        )
    return tuple(kinds)  # type: ignore[arg-type]  # checked against KINDS above


def build_worker(settings: Settings, kinds: Sequence[JobKind], *, grace_s: float) -> Worker:
    transport = transport_from(settings)
    if transport is None:
        raise SettingsError(
            "atelier worker needs ATELIER_JOBS=nats://host:4222 (the bot's NATS server)"
        )
    tools = [tool for tool in creative_tools() if job_kind(tool.kind) in kinds]
    batching = job_limits(settings).batching
    return Worker(
        transport,
        tools=tools,
        models=build_model_registry(settings),
        kinds=kinds,
        jobs=Jobs(worker_limits(transport.pull, batching)),
        device=device_name(settings.device),
        grace_s=grace_s,
    )


def device_name(setting: str) -> str:
    """The device as `atelier status` shows it: "cuda:0 (NVIDIA H100 80GB HBM3)", "cpu"."""
    try:
        device = resolve_device(setting)
    except DeviceUnavailable as exc:
        raise SettingsError(f"{exc}; set ATELIER_DEVICE to auto or cpu") from None
    if device.type != "cuda":
        return device.type
    index = device.index if device.index is not None else torch.cuda.current_device()
    return f"cuda:{index} ({torch.cuda.get_device_name(index)})"


__all__ = ["build_worker", "device_name", "parse_kinds", "serve"]
