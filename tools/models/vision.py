"""Loaders of the models that look at pictures: a vision-language model and CLIP.

Specs (see tools/models/specs.py for the forms):
  tiny:vision   a random-weight Idefics3 (SmolVLM's architecture) with SmolLM2's tokenizer,
                built from a small config once and loaded back with from_pretrained
  tiny:clip     a random-weight CLIPModel with a byte-level tokenizer made offline
  a directory or a hub id of a saved model; Idefics3-family models (SmolVLM) load with
                transformers' Idefics3Processor, which needs no torchvision (SmolVLMProcessor
                does, and fails on machines without it). Other families (Qwen2.5-VL) use
                AutoProcessor, whose video processors need torchvision: without it they are
                refused with that reason rather than failing mid-critique.

Both follow the Loader protocol of tools/models/registry.py. Callers run the models under each
loaded model's `lock`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from PIL import Image
from transformers import (
    AutoConfig,
    AutoModelForImageTextToText,
    AutoProcessor,
    AutoTokenizer,
    CLIPConfig,
    CLIPModel,
    CLIPProcessor,
    CLIPTokenizer,
    Idefics3Config,
    Idefics3ForConditionalGeneration,
    Idefics3Processor,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)
from transformers.convert_slow_tokenizer import bytes_to_unicode
from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil
from transformers.models.idefics3.image_processing_pil_idefics3 import (
    Idefics3ImageProcessorPil,
)
from transformers.utils import is_torchvision_available

from tools.models.cache import build_atomically
from tools.models.devices import device_for, module_bytes, resolve_dtype
from tools.models.sources import Builder, Source, SpecForms, resolve_source
from tools.models.specs import CLIP_ROLE, TINY_CLIP, TINY_VISION, VISION_ROLE, ModelRole
from tools.models.tiny import ensure_tiny_chat

logger = logging.getLogger(__name__)

TINY_VISION_CACHE_NAME = "tiny-vision"
TINY_CLIP_CACHE_NAME = "tiny-clip"
TINY_SEED = 0
TINY_IMAGE_EDGE = 32
# Idefics3 processors scale a picture up to 4 tiles a side (SmolVLM: 2048 px, 17 views of 64
# tokens each). A critique judges the whole picture, so 2 tiles a side plus the global view
# (5 views) keeps its detail at a third of the cost.
TILES_PER_SIDE = 2
IDEFICS3_TYPES = frozenset({"idefics3"})
# SmolVLM's chat template: content is a list of {"type": "image"} and {"type": "text"} parts.
SMOLVLM_TEMPLATE = (
    "<|im_start|>{% for message in messages %}{{message['role'] | capitalize}}"
    "{% if message['content'][0]['type'] == 'image' %}{{':'}}{% else %}{{': '}}{% endif %}"
    "{% for line in message['content'] %}{% if line['type'] == 'text' %}{{line['text']}}"
    "{% elif line['type'] == 'image' %}{{ '<image>' }}{% endif %}{% endfor %}"
    "<end_of_utterance>\n{% endfor %}{% if add_generation_prompt %}{{ 'Assistant:' }}{% endif %}"
)
_IDEFICS3_TOKENS = (
    "<fake_token_around_image>",
    "<image>",
    "<end_of_utterance>",
    "<global-img>",
    *(f"<row_{row}_col_{col}>" for row in range(1, 7) for col in range(1, 7)),
)


@dataclass
class LoadedVision:
    """A vision-language model and its processor. Run it while holding `lock`."""

    spec: str
    model: PreTrainedModel
    processor: Any
    device: torch.device
    dtype: torch.dtype
    # Per-call image processor options (the tile cap for Idefics3 models).
    image_options: Mapping[str, Any] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @property
    def tokenizer(self) -> PreTrainedTokenizerBase:
        return self.processor.tokenizer

    def prompt_text(self, messages: Sequence[Mapping[str, Any]]) -> str:
        """The chat as the model reads it, the assistant's turn opened."""
        return str(self.processor.apply_chat_template(list(messages), add_generation_prompt=True))

    def inputs(self, text: str, image: Image.Image) -> dict[str, torch.Tensor]:
        """Model inputs for a prompt text holding one image placeholder, on the model's device."""
        batch = self.processor(
            text=[text], images=[[image]], return_tensors="pt", **self.image_options
        )
        return {
            name: tensor.to(self.device, self.dtype if tensor.is_floating_point() else None)
            for name, tensor in batch.items()
        }

    def memory_bytes(self) -> int:
        return module_bytes(self.model)


@dataclass
class LoadedClip:
    """A CLIP model and its processor. Run it while holding `lock`."""

    spec: str
    model: CLIPModel
    processor: CLIPProcessor
    device: torch.device
    dtype: torch.dtype
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def similarity(self, image: Image.Image, text: str) -> float:
        """Cosine similarity of the picture's and the text's embeddings (for CLIP ViT-B/32 a
        matching caption is typically near 0.3, an unrelated one near 0.15)."""
        batch = self.processor(
            text=[text],
            images=[image.convert("RGB")],
            return_tensors="pt",
            padding=True,
            truncation=True,
            max_length=self.model.config.text_config.max_position_embeddings,
        )
        inputs = {
            name: tensor.to(self.device, self.dtype if tensor.is_floating_point() else None)
            for name, tensor in batch.items()
        }
        with torch.inference_mode():
            output = self.model(**inputs)
        cosine = torch.nn.functional.cosine_similarity(output.image_embeds, output.text_embeds)
        return float(cosine[0])

    def memory_bytes(self) -> int:
        return module_bytes(self.model)


def load_vision(
    spec: str,
    *,
    cache_dir: Path,
    device: str = "auto",
    dtype: str = "auto",
    role: ModelRole = VISION_ROLE,
) -> LoadedVision:
    """Load a vision-language model; ModelUnavailable with one line when it cannot be had."""
    torch_device, torch_dtype = _placement(spec, device, dtype, role)
    source = _source(spec, cache_dir, role, tiny={TINY_VISION: ensure_tiny_vision})
    try:
        model_type = AutoConfig.from_pretrained(source.path).model_type
        if model_type in IDEFICS3_TYPES:
            processor = Idefics3Processor.from_pretrained(source.path)
        elif not is_torchvision_available():
            raise role.unavailable(
                spec,
                f"its {model_type} processor needs torchvision, which is not installed; "
                "SmolVLM (Idefics3) models work without it",
            )
        else:
            processor = AutoProcessor.from_pretrained(source.path)
        model = AutoModelForImageTextToText.from_pretrained(source.path, dtype=torch_dtype)
    except (OSError, ValueError) as exc:
        raise role.unavailable(spec, source.describe_failure(exc)) from exc
    if getattr(processor, "chat_template", None) is None:
        raise role.unavailable(spec, "its processor has no chat template, so it cannot chat")
    model.to(torch_device)
    model.eval()
    return LoadedVision(
        spec=spec,
        model=model,
        processor=processor,
        device=torch_device,
        dtype=torch_dtype,
        image_options=_image_options(processor, model_type),
    )


def load_clip(
    spec: str,
    *,
    cache_dir: Path,
    device: str = "auto",
    dtype: str = "auto",
    role: ModelRole = CLIP_ROLE,
) -> LoadedClip:
    """Load a CLIP model; ModelUnavailable with one line when it cannot be had."""
    torch_device, torch_dtype = _placement(spec, device, dtype, role)
    source = _source(spec, cache_dir, role, tiny={TINY_CLIP: ensure_tiny_clip})
    try:
        model = CLIPModel.from_pretrained(source.path, dtype=torch_dtype)
        processor = CLIPProcessor.from_pretrained(source.path)
    except (OSError, ValueError) as exc:
        raise role.unavailable(spec, source.describe_failure(exc)) from exc
    model.to(torch_device)
    model.eval()
    return LoadedClip(
        spec=spec, model=model, processor=processor, device=torch_device, dtype=torch_dtype
    )


# --- tiny random-weight models ---------------------------------------------------------------


def tiny_vision_config(tokenizer: PreTrainedTokenizerBase) -> Idefics3Config:
    """SmolVLM's architecture (a SigLIP-style encoder, pixel shuffle, a Llama) at toy size:
    a 32 px image in 8 px patches, shuffled by 2, is 4 image tokens."""
    return Idefics3Config(
        vision_config={
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "image_size": TINY_IMAGE_EDGE,
            "patch_size": 8,
        },
        text_config={
            "model_type": "llama",
            "vocab_size": len(tokenizer),
            "hidden_size": 64,
            "intermediate_size": 128,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "num_key_value_heads": 2,
            "max_position_embeddings": 2048,
            "tie_word_embeddings": False,
        },
        scale_factor=2,
        image_token_id=tokenizer.convert_tokens_to_ids("<image>"),
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=False,
    )


def ensure_tiny_vision(cache_dir: Path, role: ModelRole = VISION_ROLE) -> Path:
    """A seeded random Idefics3 with an Idefics3Processor, saved once under cache_dir."""
    target = cache_dir / TINY_VISION_CACHE_NAME
    if (target / "config.json").is_file():
        return target
    tokenizer = AutoTokenizer.from_pretrained(ensure_tiny_chat(cache_dir, role))
    tokenizer.add_special_tokens({"additional_special_tokens": list(_IDEFICS3_TOKENS)})
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    logger.info("building the tiny random-weight vision model once in %s", target)

    def build(into: Path) -> None:
        image_processor = Idefics3ImageProcessorPil(
            do_image_splitting=False,
            size={"longest_edge": TINY_IMAGE_EDGE},
            max_image_size={"longest_edge": TINY_IMAGE_EDGE},
        )
        processor = Idefics3Processor(
            image_processor=image_processor,
            tokenizer=tokenizer,
            image_seq_len=4,
            chat_template=SMOLVLM_TEMPLATE,
        )
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(TINY_SEED)
            model = Idefics3ForConditionalGeneration(tiny_vision_config(tokenizer))
        model.save_pretrained(into)
        processor.save_pretrained(into)

    build_atomically(target, build)
    return target


def byte_level_clip_tokenizer() -> CLIPTokenizer:
    """CLIP's tokenizer with no merges: every byte is a token (514 entries with the two
    specials). Real CLIP vocabularies are downloads; this one is made from nothing."""
    characters = list(bytes_to_unicode().values())
    vocab = {character: index for index, character in enumerate(characters)}
    vocab.update({c + "</w>": index + len(characters) for index, c in enumerate(characters)})
    vocab["<|startoftext|>"] = len(vocab)
    vocab["<|endoftext|>"] = len(vocab)
    return CLIPTokenizer(vocab=vocab, merges=[], model_max_length=77)


def ensure_tiny_clip(cache_dir: Path, role: ModelRole = CLIP_ROLE) -> Path:
    target = cache_dir / TINY_CLIP_CACHE_NAME
    if (target / "config.json").is_file():
        return target
    logger.info("building the tiny random-weight CLIP model once in %s", target)

    def build(into: Path) -> None:
        tokenizer = byte_level_clip_tokenizer()
        image_processor = CLIPImageProcessorPil(
            size={"shortest_edge": TINY_IMAGE_EDGE},
            crop_size={"height": TINY_IMAGE_EDGE, "width": TINY_IMAGE_EDGE},
        )
        config = CLIPConfig(
            text_config={
                "vocab_size": len(tokenizer),
                "hidden_size": 32,
                "intermediate_size": 64,
                "num_hidden_layers": 2,
                "num_attention_heads": 2,
                "max_position_embeddings": 77,
                "bos_token_id": tokenizer.bos_token_id,
                "eos_token_id": tokenizer.eos_token_id,
                "pad_token_id": tokenizer.pad_token_id,
            },
            vision_config={
                "hidden_size": 32,
                "intermediate_size": 64,
                "num_hidden_layers": 2,
                "num_attention_heads": 2,
                "image_size": TINY_IMAGE_EDGE,
                "patch_size": 8,
            },
            projection_dim=16,
        )
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(TINY_SEED)
            model = CLIPModel(config)
        model.save_pretrained(into)
        CLIPProcessor(image_processor=image_processor, tokenizer=tokenizer).save_pretrained(into)

    build_atomically(target, build)
    return target


# --- shared ------------------------------------------------------------------------------------


def _placement(
    spec: str, device: str, dtype: str, role: ModelRole
) -> tuple[torch.device, torch.dtype]:
    torch_device = device_for(spec, device, role)
    return torch_device, resolve_dtype(dtype, torch_device)


def _source(spec: str, cache_dir: Path, role: ModelRole, *, tiny: Mapping[str, Builder]) -> Source:
    forms = SpecForms(
        listing=f"{', '.join(tiny)}, a model directory, or a hub id like org/name",
        builtins=tiny,
        builtin_noun=f"{role.name} model",
    )
    return resolve_source(spec, role, cache_dir, forms)


def _image_options(processor: Any, model_type: str) -> dict[str, Any]:
    """Cap Idefics3's tiling at TILES_PER_SIDE (see above); other families keep theirs."""
    if model_type not in IDEFICS3_TYPES:
        return {}
    image_processor = processor.image_processor
    tile = dict(image_processor.max_image_size or {}).get("longest_edge")
    if not image_processor.do_image_splitting or not tile:
        return {}
    return {"size": {"longest_edge": TILES_PER_SIDE * int(tile)}}
