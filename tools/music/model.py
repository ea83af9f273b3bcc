"""MusicGen through transformers: loading a spec, and generating clips of an exact length.

A spec is one of:
  tiny:music   a random-weight MusicgenForConditionalGeneration of the real classes (T5 text
               encoder, EnCodec codec, MusicGen decoder) with a MusicgenProcessor, built once
               under the cache dir and loaded back with from_pretrained, for tests and plumbing
  a directory  a saved MusicGen model and processor (it has a config.json)
  org/name     a Hugging Face hub id such as facebook/musicgen-small

Generation counts in codec frames: MusicGen's EnCodec makes `frame_rate` frames a second
(50 for the real models) and its delay pattern needs `codebooks - 1` more steps than frames,
so a clip of s seconds takes ceil(s x frame_rate) + codebooks - 1 decoder steps. The audio is
then cut to the exact number of samples asked for.

This module needs only torch, transformers and numpy, so bench/music.py can run it on a GPU
machine that has nothing else of atelier's dependencies.
"""

from __future__ import annotations

import json
import logging
import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from tokenizers import Tokenizer, models, pre_tokenizers, trainers
from transformers import (
    EncodecConfig,
    EncodecFeatureExtractor,
    MusicgenConfig,
    MusicgenDecoderConfig,
    MusicgenForConditionalGeneration,
    MusicgenProcessor,
    T5Config,
    T5Tokenizer,
)
from transformers.generation.stopping_criteria import StoppingCriteria, StoppingCriteriaList

from tools.models.cache import build_atomically
from tools.models.devices import device_for, module_bytes, resolve_dtype_float32_on_cpu
from tools.models.sources import Source, local_or_hub
from tools.models.specs import MUSIC_MELODY_ROLE, MUSIC_ROLE, TINY_MUSIC, ModelRole
from tools.music.decode.music import generate_audio
from tools.music.decode.music import supports as fast_decode_supports

if TYPE_CHECKING:
    from tools.music.melody_model import LoadedMelodyGen

logger = logging.getLogger(__name__)

TINY_MUSIC_CACHE_NAME = "tiny-music"
TINY_MUSIC_SEED = 0
_FORMS = "tiny:music, a MusicGen model directory, or a hub id like facebook/musicgen-small"

# Called once per decoder step with (steps done, steps in all); may raise to stop generation.
OnStep = Callable[[int, int], None]


@dataclass
class LoadedMusicGen:
    """A MusicGen model and its processor. Generation must hold `lock`: one model, one caller."""

    spec: str
    model: MusicgenForConditionalGeneration
    processor: MusicgenProcessor
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
    def hop_length(self) -> int:
        """Samples per codec frame."""
        return self.sampling_rate // self.frame_rate

    @property
    def codebooks(self) -> int:
        return int(self.model.decoder.num_codebooks)

    @property
    def max_steps(self) -> int:
        """Decoder steps the position embeddings allow: prompt frames and new steps together."""
        return int(self.model.config.decoder.max_position_embeddings)

    def steps_for(self, seconds: float) -> int:
        """Decoder steps for `seconds` of new audio: a frame per 1/frame_rate s, plus the
        delay pattern's offset of one step per codebook after the first."""
        return self.frames_for(seconds) + self.codebooks - 1

    def frames_for(self, seconds: float) -> int:
        return math.ceil(round(seconds * self.frame_rate, 6))

    def memory_bytes(self) -> int:
        return module_bytes(self.model)


# --- generation ---------------------------------------------------------------------------


class StepCounter(StoppingCriteria):
    """Called by generate() after each decoder step: counts steps so the caller can report
    progress and stop the run between steps (by raising). It never stops generation itself.

    A stopping criterion rather than a streamer: MusicGen's generate() (transformers 5.24)
    hands a streamer the prompt only, never the generated steps.
    """

    def __init__(self, total: int, on_step: OnStep) -> None:
        self._total = total
        self._on_step = on_step
        self._done = 0

    def __call__(
        self, input_ids: torch.LongTensor, scores: object, **kwargs: object
    ) -> torch.Tensor:
        self._done += 1
        self._on_step(self._done, self._total)
        return torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)


def generate_music(
    loaded: LoadedMusicGen,
    descriptions: Sequence[str],
    seconds: float,
    *,
    guidance: float = 3.0,
    prompt_audio: np.ndarray | None = None,
    on_step: OnStep | None = None,
    fast_decode: bool = True,
) -> np.ndarray:
    """`seconds` of new mono audio per description, as float32 (batch, samples) at the
    model's sampling rate. The caller holds `loaded.lock` and seeds the run.

    `fast_decode` makes the tokens with our own decode loop (tools/music/decode/: a static
    cache, and CUDA graphs on a GPU); False, or a stereo model, uses transformers' generate().

    With `prompt_audio` (mono, at the model's rate, a whole number of codec frames long) the
    model continues it: the result then starts with the codec's own rendering of the prompt,
    followed by the new audio, so it is len(prompt_audio) + seconds long.
    """
    processor, model = loaded.processor, loaded.model
    audio = {}
    if prompt_audio is not None:
        audio = {"audio": [prompt_audio] * len(descriptions), "sampling_rate": loaded.sampling_rate}
    inputs = processor(text=list(descriptions), padding=True, return_tensors="pt", **audio)
    inputs = {name: value.to(loaded.device) for name, value in inputs.items()}
    if "input_values" in inputs:  # the audio prompt goes through EnCodec in the model's dtype
        inputs["input_values"] = inputs["input_values"].to(loaded.dtype)
    steps = loaded.steps_for(seconds)
    with torch.inference_mode():
        if fast_decode and fast_decode_supports(model):
            output = generate_audio(model, inputs, steps, guidance=guidance, on_step=on_step)
        else:
            output = _generate(model, inputs, steps, guidance, on_step)
    # (batch, channels, samples): a stereo model's two channels are averaged to one.
    waves = output.float().mean(dim=1).cpu().numpy()
    prompt_samples = 0 if prompt_audio is None else len(prompt_audio)
    wanted = prompt_samples + round(seconds * loaded.sampling_rate)
    return np.ascontiguousarray(waves[:, :wanted], dtype=np.float32)


def _generate(
    model: MusicgenForConditionalGeneration,
    inputs: dict[str, torch.Tensor],
    steps: int,
    guidance: float,
    on_step: OnStep | None,
) -> torch.Tensor:
    """Audio (batch, channels, samples) from transformers' own generate()."""
    counters = StoppingCriteriaList([] if on_step is None else [StepCounter(steps, on_step)])
    return model.generate(
        **inputs,
        do_sample=True,
        guidance_scale=guidance,
        max_new_tokens=steps,
        stopping_criteria=counters,
    )


# --- loading ------------------------------------------------------------------------------


def load_music_model(
    spec: str,
    *,
    cache_dir: Path,
    device: str = "auto",
    dtype: str = "auto",
    role: ModelRole = MUSIC_ROLE,
) -> LoadedMusicGen | LoadedMelodyGen:
    """Load MusicGen from a spec (see the module docstring); the Loader for ModelKind.MUSIC.

    Raises ModelUnavailable with a one-line reason when the spec cannot be had. The melody
    role's model is MusicGen-Melody, another class with its own loader.
    """
    if role.name == MUSIC_MELODY_ROLE.name:
        # Imported here: tools/music/melody_model.py builds on this module's tiny model.
        from tools.music.melody_model import load_melody_model

        return load_melody_model(spec, cache_dir=cache_dir, device=device, dtype=dtype, role=role)
    torch_device = device_for(spec, device, role)
    torch_dtype = resolve_dtype_float32_on_cpu(dtype, torch_device)
    source = _resolve_source(spec, cache_dir, role)
    logger.info("loading %s model %s on %s as %s", role.name, spec, torch_device, torch_dtype)
    try:
        processor = MusicgenProcessor.from_pretrained(source.path)
        model = MusicgenForConditionalGeneration.from_pretrained(source.path, dtype=torch_dtype)
    except (OSError, ValueError) as exc:
        # OSError: files missing (or the hub unreachable); ValueError: not a MusicGen model.
        raise role.unavailable(spec, source.describe_failure(exc)) from exc
    model.to(torch_device)
    model.eval()
    compact_lstms(model)
    return LoadedMusicGen(
        spec=spec, model=model, processor=processor, device=torch_device, dtype=torch_dtype
    )


def compact_lstms(model: torch.nn.Module) -> None:
    """Lay EnCodec's LSTM weights out in one block again after a move or cast: cuDNN
    otherwise copies them into one on every call (and warns that it does)."""
    for module in model.modules():
        if isinstance(module, torch.nn.LSTM):
            module.flatten_parameters()


def _resolve_source(spec: str, cache_dir: Path, role: ModelRole) -> Source:
    if spec == TINY_MUSIC:
        return Source(str(ensure_tiny_music(cache_dir)))
    if spec.startswith(("bundled:", "tiny:")):
        raise role.unavailable(spec, f"no such built-in music model; accepted forms are {_FORMS}")
    not_a_spec = f"not a music model spec; accepted forms are {_FORMS}"
    return local_or_hub(spec, role, not_a_spec=not_a_spec)


# --- the tiny random-weight model ---------------------------------------------------------

# Words the tiny tokenizer is trained on: descriptions of music, so prompts split into
# pieces the way a real T5 vocabulary would split them, not into single letters.
_MUSIC_WORDS = (
    "rainy night jazz with slow brushes and a soft upright bass",
    "calm ambient synth pads, slow tempo, warm and dreamy",
    "upbeat rock with electric guitar, bass and loud drums",
    "a sad violin melody in a minor key with cello",
    "solo piano, gentle and wistful, quiet and sparse",
    "bright acoustic guitar and glockenspiel, happy, playful, fast",
    "epic orchestral strings and brass, dramatic and intense",
    "lofi hip hop beat with vinyl crackle and mellow keys",
    "march for toy soldiers with snare drum and flute",
    "guzheng and bamboo flute, peaceful, flowing like water",
)


def tiny_music_tokenizer() -> T5Tokenizer:
    """A T5 tokenizer made offline: a unigram (sentencepiece-style) vocabulary trained in
    memory on music descriptions, with T5's special tokens in T5's places."""
    trainer = trainers.UnigramTrainer(
        vocab_size=256, special_tokens=["<pad>", "</s>", "<unk>"], unk_token="<unk>"
    )
    unigram = Tokenizer(models.Unigram())
    unigram.pre_tokenizer = pre_tokenizers.Metaspace()
    unigram.train_from_iterator(_MUSIC_WORDS * 4, trainer)
    vocab = [(piece, score) for piece, score in json.loads(unigram.to_str())["model"]["vocab"]]
    return T5Tokenizer(vocab=vocab, extra_ids=0)


def tiny_music_config(text_vocab_size: int) -> MusicgenConfig:
    """MusicGen's real layout at toy width: 32 kHz EnCodec at 50 frames a second with four
    codebooks (as in musicgen-small), so durations and token counts behave like the real model.
    The codebook holds 64 codes; a 1.2 kbps bandwidth at 6 bits a code gives four quantizers."""
    text_encoder = T5Config(
        vocab_size=text_vocab_size,
        d_model=32,
        d_ff=64,
        d_kv=8,
        num_heads=4,
        num_layers=2,
        relative_attention_num_buckets=8,
    )
    audio_encoder = EncodecConfig(
        sampling_rate=32000,
        upsampling_ratios=[8, 5, 4, 4],
        hidden_size=16,
        num_filters=4,
        codebook_size=64,
        codebook_dim=16,
        target_bandwidths=[1.2],
        num_lstm_layers=1,
        use_causal_conv=False,
        use_conv_shortcut=False,
    )
    decoder = MusicgenDecoderConfig(
        vocab_size=64,
        max_position_embeddings=2048,
        num_hidden_layers=2,
        ffn_dim=64,
        num_attention_heads=4,
        hidden_size=32,
        num_codebooks=4,
        # As in the real models: the pad/start token is one past the codebook.
        pad_token_id=64,
        bos_token_id=64,
    )
    return MusicgenConfig(text_encoder=text_encoder, audio_encoder=audio_encoder, decoder=decoder)


def configure_generation(model: MusicgenForConditionalGeneration) -> None:
    """The generation settings musicgen checkpoints ship: sample, with classifier-free
    guidance 3, starting from the pad token."""
    start = model.config.decoder.pad_token_id
    generation = model.generation_config
    generation.decoder_start_token_id = start
    generation.pad_token_id = start
    generation.bos_token_id = start
    generation.do_sample = True
    generation.guidance_scale = 3.0
    generation.top_k = 250
    generation.max_length = 1500


def randomise_codebooks(model: MusicgenForConditionalGeneration) -> None:
    """Give EnCodec's codebooks random entries, as trained ones have. transformers builds
    them as zeros (the original fills them by k-means on first use), and a zero codebook
    decodes every code to the same sound: generation would not reach the audio at all."""
    for layer in model.audio_encoder.quantizer.layers:
        codebook = layer.codebook
        codebook.embed.normal_()
        codebook.embed_avg.copy_(codebook.embed)
        codebook.cluster_size.fill_(1.0)


def centre_tiny_codec(model: MusicgenForConditionalGeneration) -> None:
    """Shift the random codec's last bias so its audio centres on zero, as a trained codec's
    does: random convolutions and ELUs leave an offset near half of full scale, which would
    make every clip start and end with a step."""
    codec = model.audio_encoder
    codes = torch.randint(0, codec.config.codebook_size, (1, 1, model.decoder.num_codebooks, 50))
    with torch.no_grad():
        offset = codec.decode(codes, [None]).audio_values.mean()
        codec.decoder.layers[-1].conv.bias -= offset


def ensure_tiny_music(cache_dir: Path) -> Path:
    """The tiny random-weight MusicGen, saved once, so it loads through from_pretrained like
    any real model and has the same weights on every machine."""
    target = cache_dir / TINY_MUSIC_CACHE_NAME
    if (target / "config.json").is_file():
        return target
    logger.info("building the tiny random-weight music model once in %s", target)

    def build(into: Path) -> None:
        tokenizer = tiny_music_tokenizer()
        processor = MusicgenProcessor(
            feature_extractor=EncodecFeatureExtractor(feature_size=1, sampling_rate=32000),
            tokenizer=tokenizer,
        )
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(TINY_MUSIC_SEED)
            model = MusicgenForConditionalGeneration(tiny_music_config(len(tokenizer)))
            randomise_codebooks(model)
            centre_tiny_codec(model)
        configure_generation(model)
        model.save_pretrained(into)
        processor.save_pretrained(into)

    build_atomically(target, build)
    return target
