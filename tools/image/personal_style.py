"""A person's own trained style on the image model, for one render (issue 19, Deliver 2): the
STYLE piece's LoRA (tools/style/weights.py) added to the UNet while the render holds the
model's lock, and taken off again in a `finally`, so the next render, anyone's, runs on the
plain UNet.

  style_to_apply   the STYLE piece the agent resolved from `style_name`
                   (ToolContext.personal_style) as a PersonalStyle: its name, number and
                   weights, read from its file in the run's worker thread, before the lock
                   (kept per file in a small cache: a style used again is not read again)
  check_fits       refused in one line when it was trained on another image model
  prompted         a prompt with the words the style was trained to answer to at its end
  wearing          the context manager render_batch holds the style on with

Renders batch only with the same style (`PersonalStyle.key`: the piece and a digest of its
file), so one pipeline call never mixes styles, or a style and none.

On CUDA's fast path the UNet's attention runs fused q/k/v projections and is compiled
(tools/image/fast.py). A LoRA on to_q/to_k/to_v is bypassed by a fused projection, and a UNet
whose modules change makes a compiled graph recompile (a minute). So while a style is on,
fused processors are swapped for plain SDPA ones and the UNet runs eagerly; both come back
after, with the parameters' requires_grad flags, which peft's injection turns off.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import peft
from diffusers.models.attention_processor import AttnProcessor2_0, FusedAttnProcessor2_0

from tools.contract import ArtifactKind, FocusArtifact, ToolRefused, in_style
from tools.image.loaded import LoadedImagePipeline
from tools.style.weights import LORA_FILE, StyleWeights, read_weights

# Not an nn.Module attribute ("train" is one): peft adds a submodule of this name per layer.
ADAPTER = "atelier_personal_style"
# Read styles kept in memory, by file: a LoRA of SD 1.x's attention is a few MiB.
CACHED_STYLES = 8
DIGEST_CHARS = 16


@dataclass(frozen=True)
class PersonalStyle:
    """A trained style ready to put on the UNet: what the piece records, and its weights."""

    name: str
    number: int  # the STYLE piece
    digest: str  # of its weights file: the same file batches, another does not
    trained_on: str | None  # the image model spec it was trained on, when recorded
    # The words it was trained to answer to (DreamBooth's instance prompt), when recorded:
    # a prompt wearing the style ends with them.
    instance_prompt: str | None
    weights: StyleWeights = field(compare=False, repr=False)

    @property
    def key(self) -> tuple[int, str]:
        """What renders must share to be one pipeline call."""
        return (self.number, self.digest)


def no_such_style(name: str) -> ToolRefused:
    return ToolRefused(
        f"You have no style named {name.strip()!r}: /style list shows yours, and "
        "/style train makes one."
    )


def style_to_apply(piece: FocusArtifact | None, name: str) -> PersonalStyle:
    """The style asked for by name, its weights read; ToolRefused in one line when the
    agent found none (it normally refuses first) or its file is not a style's."""
    if piece is None:
        raise no_such_style(name)
    path = piece.files.get(LORA_FILE)
    if piece.kind is not ArtifactKind.STYLE or path is None:
        raise ToolRefused(f"#{piece.number} is not a trained style, so nothing can wear it.")
    digest, weights = read_cached(path)
    recorded = str(piece.params.get("name") or "").strip()
    model = piece.params.get("model")
    words = str(piece.params.get("instance_prompt") or "").strip()
    return PersonalStyle(
        name=recorded or name.strip(),
        number=piece.number,
        digest=digest,
        trained_on=str(model) if model else None,
        instance_prompt=words or None,
        weights=weights,
    )


def check_fits(style: PersonalStyle, spec: str) -> None:
    """Refused when the style was trained on another image model: its LoRA fits that one."""
    if style.trained_on is not None and style.trained_on != spec:
        raise ToolRefused(
            f"Your style {style.name!r} was trained on the image model {style.trained_on}, "
            f"and this one is {spec}: train it again here with /style train."
        )


def prompted(prompt: str, style: PersonalStyle) -> str:
    """The prompt ending with the style's instance prompt (once), as DreamBooth trained the
    LoRA to answer to it; as it was when none is recorded."""
    return in_style(prompt, style.instance_prompt)


_cache: OrderedDict[tuple[str, int, int], tuple[str, StyleWeights]] = OrderedDict()
_cache_lock = threading.Lock()


def read_cached(path: Path) -> tuple[str, StyleWeights]:
    """The file's digest and weights, read once per file (path, size and time) while it
    stays among the last CACHED_STYLES used; ToolRefused in one line when unreadable."""
    try:
        stat = path.stat()
    except OSError:
        return _read(path)  # read_weights words the missing file
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    found = _read(path)  # outside the lock: other runs' styles need not wait on this file
    with _cache_lock:
        _cache[key] = found
        while len(_cache) > CACHED_STYLES:
            _cache.popitem(last=False)
    return found


def _read(path: Path) -> tuple[str, StyleWeights]:
    weights = read_weights(path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:DIGEST_CHARS]
    return digest, weights


@contextmanager
def wearing(loaded: LoadedImagePipeline, style: PersonalStyle | None) -> Iterator[None]:
    """The style's LoRA on the UNet for the block, and off again however it ends (a
    cancelled run included). The caller holds `loaded.lock`."""
    if style is None:
        yield
        return
    unet = loaded.text2img.unet
    trainable = {name: p.requires_grad for name, p in unet.named_parameters()}
    processors = plain_attention(unet)
    compiled = eager(unet)
    try:
        _put_on(unet, style, loaded.spec)
        yield
    finally:
        _take_off(unet)
        for name, parameter in unet.named_parameters():
            parameter.requires_grad_(trainable.get(name, parameter.requires_grad))
        if processors is not None:
            unet.set_attn_processor(processors)
        unet._compiled_call_impl = compiled


def _put_on(unet: Any, style: PersonalStyle, spec: str) -> None:
    config = style.weights.config()
    config.inference_mode = True  # the adapter is worn, not trained
    try:
        unet.add_adapter(config, adapter_name=ADAPTER)
        loaded = peft.set_peft_model_state_dict(unet, style.weights.tensors, adapter_name=ADAPTER)
    except (RuntimeError, ValueError, KeyError) as error:  # shapes of another model
        raise _does_not_fit(style, spec) from error
    unmatched = [key for key in loaded.missing_keys if "lora_" in key]
    if loaded.unexpected_keys or unmatched:  # layers this UNet does not have, or lacks
        raise _does_not_fit(style, spec)


def _does_not_fit(style: PersonalStyle, spec: str) -> ToolRefused:
    return ToolRefused(
        f"Your style {style.name!r} does not fit the image model {spec}: it was trained on "
        "another one. Train it again here with /style train."
    )


def _take_off(unet: Any) -> None:
    """The adapter deleted, and once none is left the LoRA wrappers replaced by the layers
    they wrap: the UNet's modules are those it had before."""
    unet.delete_adapters(ADAPTER)
    if not getattr(unet, "peft_config", None):
        unet.unload_lora()


def plain_attention(unet: Any) -> dict[str, Any] | None:
    """Fused attention processors swapped for plain SDPA ones (a LoRA on to_q/to_k/to_v
    takes effect only through them); the processors to put back, or None when none was
    fused. An IP-Adapter's processors stay: they use the unfused projections already."""
    processors = dict(unet.attn_processors)
    if not any(isinstance(p, FusedAttnProcessor2_0) for p in processors.values()):
        return None
    plain = {
        name: AttnProcessor2_0() if isinstance(p, FusedAttnProcessor2_0) else p
        for name, p in processors.items()
    }
    unet.set_attn_processor(plain)
    return processors


def eager(unet: Any) -> Any:
    """The UNet's compiled forward set aside (nn.Module.compile's), to put back after: the
    style's render runs eagerly rather than recompiling the graph for its modules."""
    compiled = getattr(unet, "_compiled_call_impl", None)
    unet._compiled_call_impl = None
    return compiled
