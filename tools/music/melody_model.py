"""MusicGen-Melody through transformers: loading a spec, and a clip that follows a melody.

A spec (role "music_melody", setting ATELIER_MODEL_MUSIC_MELODY) is one of:
  tiny:musicgen-melody  a random-weight MusicgenMelodyForConditionalGeneration of the real
                        classes at the tiny MusicGen's width (tools/music/model.py), built once
                        under the cache dir and loaded back with from_pretrained
  a directory           a saved MusicGen-Melody model with its tokenizer and
                        preprocessor_config.json
  org/name              a hub id such as facebook/musicgen-melody

transformers' MusicgenMelodyProcessor cannot be built here: its feature extractor needs
torchaudio. So the tokenizer is loaded on its own, the extractor's parameters are read from
preprocessor_config.json, and the chroma is computed by tools/music/chroma.py.

Generation is transformers' generate() (our own decode loop knows MusicGen's layout only),
with the melody's chroma as `input_features` and a step counter for progress and cancel.
"""

from __future__ import annotations

import json
import logging
import math
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from transformers import (
    AutoTokenizer,
    MusicgenMelodyConfig,
    MusicgenMelodyDecoderConfig,
    MusicgenMelodyForConditionalGeneration,
    PreTrainedTokenizerBase,
)
from transformers.generation.stopping_criteria import StoppingCriteriaList
from transformers.utils import cached_file

from tools.models.cache import build_atomically
from tools.models.devices import device_for, module_bytes, resolve_dtype_float32_on_cpu
from tools.models.sources import Source, local_or_hub
from tools.models.specs import MUSIC_MELODY_ROLE, TINY_MUSIC_MELODY, ModelRole
from tools.music.chroma import ChromaSettings
from tools.music.model import (
    OnStep,
    StepCounter,
    centre_tiny_codec,
    compact_lstms,
    configure_generation,
    randomise_codebooks,
    tiny_music_config,
    tiny_music_tokenizer,
)

logger = logging.getLogger(__name__)

TINY_MELODY_CACHE_NAME = "tiny-musicgen-melody"
TINY_MELODY_SEED = 0
PREPROCESSOR_CONFIG = "preprocessor_config.json"
# Weights this far from zero: at transformers' 0.02 a random decoder's logits are so flat
# that sampling is all noise and neither the words nor the melody reach the audio.
TINY_INITIALISER_SCALE = 0.3
_FORMS = (
    "tiny:musicgen-melody, a MusicGen-Melody directory, or a hub id like facebook/musicgen-melody"
)


@dataclass
class LoadedMelodyGen:
    """A MusicGen-Melody model, its tokenizer and its chroma parameters. Generation must
    hold `lock`: one model, one caller."""

    spec: str
    model: MusicgenMelodyForConditionalGeneration
    tokenizer: PreTrainedTokenizerBase
    chroma: ChromaSettings
    device: torch.device
    dtype: torch.dtype
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @property
    def sampling_rate(self) -> int:
        return int(self.model.config.audio_encoder.sampling_rate)

    @property
    def frame_rate(self) -> int:
        return int(self.model.config.audio_encoder.frame_rate)

    @property
    def codebooks(self) -> int:
        return int(self.model.decoder.num_codebooks)

    def steps_for(self, seconds: float) -> int:
        """As MusicGen's: a step per codec frame plus the delay pattern's offset."""
        return math.ceil(round(seconds * self.frame_rate, 6)) + self.codebooks - 1

    def memory_bytes(self) -> int:
        return module_bytes(self.model)


def generate_with_melody(
    loaded: LoadedMelodyGen,
    description: str,
    chroma: torch.Tensor,
    seconds: float,
    *,
    guidance: float,
    on_step: OnStep | None = None,
) -> np.ndarray:
    """`seconds` of mono float32 audio that follows `chroma` (1, frames, 12) in the manner
    `description` says. The caller holds `loaded.lock` and seeds the run."""
    text = loaded.tokenizer([description], padding=True, return_tensors="pt")
    steps = loaded.steps_for(seconds)
    counters = StoppingCriteriaList([] if on_step is None else [StepCounter(steps, on_step)])
    with torch.inference_mode():
        output = loaded.model.generate(
            input_ids=text["input_ids"].to(loaded.device),
            attention_mask=text["attention_mask"].to(loaded.device),
            input_features=chroma.to(loaded.device, loaded.dtype),
            do_sample=True,
            guidance_scale=guidance,
            max_new_tokens=steps,
            stopping_criteria=counters,
        )
    wave = output.float().mean(dim=1)[0].cpu().numpy()
    return np.ascontiguousarray(wave[: round(seconds * loaded.sampling_rate)], dtype=np.float32)


# --- loading ------------------------------------------------------------------------------


def load_melody_model(
    spec: str,
    *,
    cache_dir: Path,
    device: str = "auto",
    dtype: str = "auto",
    role: ModelRole = MUSIC_MELODY_ROLE,
) -> LoadedMelodyGen:
    """Load MusicGen-Melody from a spec (see the module docstring); ModelUnavailable with a
    one-line reason, naming ATELIER_MODEL_MUSIC_MELODY, when it cannot be had."""
    torch_device = device_for(spec, device, role)
    torch_dtype = resolve_dtype_float32_on_cpu(dtype, torch_device)
    source = _resolve_source(spec, cache_dir, role)
    logger.info("loading %s model %s on %s as %s", role.name, spec, torch_device, torch_dtype)
    try:
        tokenizer = AutoTokenizer.from_pretrained(source.path)
        chroma = _chroma_settings(source.path)
        model = MusicgenMelodyForConditionalGeneration.from_pretrained(
            source.path, dtype=torch_dtype
        )
    except (OSError, ValueError) as exc:
        # OSError: files missing (or the hub unreachable); ValueError: not a melody model.
        raise role.unavailable(spec, source.describe_failure(exc)) from exc
    model.to(torch_device)
    model.eval()
    compact_lstms(model)
    return LoadedMelodyGen(spec, model, tokenizer, chroma, torch_device, torch_dtype)


def _chroma_settings(path: str) -> ChromaSettings:
    found = cached_file(path, PREPROCESSOR_CONFIG)
    if found is None:
        raise OSError(f"{path} has no {PREPROCESSOR_CONFIG}")
    return ChromaSettings.of(json.loads(Path(found).read_text(encoding="utf-8")))


def _resolve_source(spec: str, cache_dir: Path, role: ModelRole) -> Source:
    if spec == TINY_MUSIC_MELODY:
        return Source(str(ensure_tiny_melody(cache_dir)))
    if spec.startswith(("bundled:", "tiny:")):
        raise role.unavailable(spec, f"no such built-in melody model; accepted forms are {_FORMS}")
    return local_or_hub(
        spec, role, not_a_spec=f"not a melody model spec; accepted forms are {_FORMS}"
    )


# --- the tiny random-weight model ---------------------------------------------------------


def tiny_melody_config(text_vocab_size: int) -> MusicgenMelodyConfig:
    """The tiny MusicGen's T5 and EnCodec with a MusicGen-Melody decoder of the same width;
    the real model's 12 chroma bins and 235 chroma frames (30 s)."""
    music = tiny_music_config(text_vocab_size)
    decoder = MusicgenMelodyDecoderConfig(
        vocab_size=64,
        max_position_embeddings=2048,
        num_hidden_layers=2,
        ffn_dim=64,
        num_attention_heads=4,
        hidden_size=32,
        num_codebooks=4,
        pad_token_id=64,
        bos_token_id=64,
        initializer_factor=TINY_INITIALISER_SCALE,
    )
    return MusicgenMelodyConfig(
        text_encoder=music.text_encoder, audio_encoder=music.audio_encoder, decoder=decoder
    )


def tiny_preprocessor_config() -> dict[str, object]:
    """What facebook/musicgen-melody's preprocessor_config.json says, so the tiny model's
    chroma is computed as the real one's."""
    settings = ChromaSettings()
    return {
        "feature_extractor_type": "MusicgenMelodyFeatureExtractor",
        "processor_class": "MusicgenMelodyProcessor",
        "feature_size": settings.num_chroma,
        "sampling_rate": settings.sampling_rate,
        "hop_length": settings.hop_length,
        "chunk_length": settings.chunk_length,
        "n_fft": settings.n_fft,
        "num_chroma": settings.num_chroma,
        "padding_side": "right",
        "padding_value": 0.0,
        "return_attention_mask": False,
        "stem_indices": [3, 2],
    }


def ensure_tiny_melody(cache_dir: Path) -> Path:
    """The tiny random-weight MusicGen-Melody, saved once, so it loads through from_pretrained
    like any real model and has the same weights on every machine."""
    target = cache_dir / TINY_MELODY_CACHE_NAME
    if (target / "config.json").is_file():
        return target
    logger.info("building the tiny random-weight melody model once in %s", target)

    def build(into: Path) -> None:
        tokenizer = tiny_music_tokenizer()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(TINY_MELODY_SEED)
            model = MusicgenMelodyForConditionalGeneration(tiny_melody_config(len(tokenizer)))
            randomise_codebooks(model)
            centre_tiny_codec(model)
        configure_generation(model)
        model.save_pretrained(into)
        tokenizer.save_pretrained(into)
        preprocessor = json.dumps(tiny_preprocessor_config(), indent=2)
        (into / PREPROCESSOR_CONFIG).write_text(preprocessor, encoding="utf-8")

    build_atomically(target, build)
    return target
