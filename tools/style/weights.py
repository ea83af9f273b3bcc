"""A trained style's weights as they are stored: the UNet's LoRA state (what
`peft.get_peft_model_state_dict(unet, adapter_name=...)` returns, the adapter name left out
of the keys) in one safetensors file, with its rank, alpha and target modules as metadata.

The image side applies it with `unet.add_adapter(weights.config(), adapter_name=X)` and
`peft.set_peft_model_state_dict(unet, weights.tensors, adapter_name=X)`; the piece keeps the
file under LORA_FILE in its files. An adapter's name must not be an attribute of
torch.nn.Module ("train" fails in peft with "attribute 'train' already exists"). Deleting the
last adapter (`delete_adapters`) leaves peft's wrapper layers in place; `unload_lora()` then
puts the UNet's own layers back (tools/style/train.py does so after training).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import peft
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save

from tools.contract import Media, ToolRefused

LORA_FILE = "lora"
LORA_MIME = "application/vnd.atelier.lora+safetensors"

# Marks the file as ours, so a stray safetensors file is not read as a style.
FORMAT = "atelier-style-lora/1"


@dataclass(frozen=True)
class StyleWeights:
    rank: int
    alpha: int
    targets: tuple[str, ...]
    tensors: dict[str, torch.Tensor]

    def config(self) -> peft.LoraConfig:
        # "gaussian" only shapes the adapter before its trained state is set over it.
        return peft.LoraConfig(
            r=self.rank,
            lora_alpha=self.alpha,
            target_modules=list(self.targets),
            init_lora_weights="gaussian",
        )


def weights_media(weights: StyleWeights) -> Media:
    """The weights as the bytes of a safetensors file, rank/alpha/targets in its metadata."""
    tensors = {key: value.detach().to("cpu").contiguous() for key, value in weights.tensors.items()}
    metadata = {
        "format": FORMAT,
        "rank": str(weights.rank),
        "alpha": str(weights.alpha),
        "targets": ",".join(weights.targets),
    }
    return Media(data=save(tensors, metadata=metadata), mime_type=LORA_MIME)


def read_weights(path: Path) -> StyleWeights:
    """The weights stored at `path`; ToolRefused (one line) when it is missing or not a LoRA."""
    if not path.is_file():
        raise ToolRefused(f"The style's weights are missing ({path.name}); train the style again.")
    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as error:
        raise ToolRefused(f"The style's file {path.name} is not LoRA weights ({error}).") from error
    if metadata.get("format") != FORMAT or not tensors:
        raise ToolRefused(f"The style's file {path.name} is not LoRA weights.")
    try:
        rank, alpha = int(metadata["rank"]), int(metadata["alpha"])
        targets = tuple(name for name in metadata["targets"].split(",") if name)
    except (KeyError, ValueError) as error:
        raise ToolRefused(f"The style's file {path.name} has no rank, alpha or targets.") from error
    if rank < 1 or not targets:
        raise ToolRefused(f"The style's file {path.name} has no rank, alpha or targets.")
    return StyleWeights(rank=rank, alpha=alpha, targets=targets, tensors=tensors)
