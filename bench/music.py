"""MusicGen speed and memory: seconds of audio per second of compute, and peak memory.

Run from the repository root (atelier need not be installed; the script puts the root on
the import path, and imports only torch, transformers, numpy and atelier's tools modules):

    .venv/bin/python bench/music.py            # tiny:music on the CPU (well under a minute)
    python3 bench/music.py --seconds 10        # on a CUDA machine: adds musicgen-small rows
    python3 bench/music.py --small-on-cpu      # musicgen-small on the CPU too (minutes)

Rows:
  tiny:music       the test model (tools/music/model.py), built in a temporary directory and
                   loaded back with from_pretrained, on the CPU at batch 1 and 4
  musicgen-small   random weights of facebook/musicgen-small's architecture (the config is
                   written below: nothing is downloaded), on CUDA in the loader's dtype
                   (bfloat16 where the card has it) at batch 1 and 4, after a warm-up run

Each row times calls of tools.music.model.generate_music, the function the music tool uses:
the T5 encoder, every decoder step with classifier-free guidance (--guidance, 3 by default,
which runs the decoder on twice the batch) and EnCodec decoding; the median of --runs calls
(3 by default) after one warm-up call at the same shapes (which, on CUDA, captures the fast
path's graph). Each model and batch is run both ways, same model, same clip length:
  generate   transformers' MusicgenForConditionalGeneration.generate (fast_decode=False)
  fast       our decode loop, tools/music/decode/ (static cache; CUDA graphs on a GPU)
steps/s is decoder steps (frames + codebooks - 1) per second of the whole call; "x generate"
is the fast row's steps/s over the generate row's. The real-time factor is the seconds of
audio made (clip length x batch) per second of wall time; above 1 is faster than real time.
Random weights sample as fast as trained ones: the work per step is the same.

Peak memory: on CUDA, torch.cuda.max_memory_allocated over the run (weights included); on
the CPU, the process's peak resident set over the run (VmHWM, reset before each row through
/proc/self/clear_refs), which also counts Python, torch and the model weights.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tools.units import MIB

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402
from transformers import (  # noqa: E402
    EncodecConfig,
    EncodecFeatureExtractor,
    MusicgenConfig,
    MusicgenDecoderConfig,
    MusicgenForConditionalGeneration,
    MusicgenProcessor,
    T5Config,
)

from tools.models.devices import resolve_dtype_float32_on_cpu  # noqa: E402
from tools.music.model import (  # noqa: E402
    LoadedMusicGen,
    compact_lstms,
    configure_generation,
    generate_music,
    load_music_model,
    randomise_codebooks,
    tiny_music_tokenizer,
)

PROMPTS = (
    "rainy night jazz, slow brushes and upright bass",
    "upbeat synth pop with punchy drums",
    "a sad violin melody over soft piano",
    "epic orchestral strings and brass",
)


def musicgen_small_config() -> MusicgenConfig:
    """facebook/musicgen-small's architecture: a T5-base text encoder, a 24-layer 1024-wide
    decoder over four 2048-code codebooks, and 32 kHz EnCodec at 50 frames a second."""
    text_encoder = T5Config(
        vocab_size=32128,
        d_model=768,
        d_ff=3072,
        d_kv=64,
        num_heads=12,
        num_layers=12,
        relative_attention_num_buckets=32,
        feed_forward_proj="relu",
    )
    audio_encoder = EncodecConfig(
        sampling_rate=32000,
        audio_channels=1,
        upsampling_ratios=[8, 5, 4, 4],
        hidden_size=128,
        num_filters=64,
        num_residual_layers=1,
        num_lstm_layers=2,
        codebook_size=2048,
        target_bandwidths=[2.2],
        use_causal_conv=False,
        use_conv_shortcut=False,
        normalize=False,
        chunk_length_s=None,
        overlap=None,
    )
    decoder = MusicgenDecoderConfig(
        vocab_size=2048,
        max_position_embeddings=2048,
        num_hidden_layers=24,
        ffn_dim=4096,
        num_attention_heads=16,
        hidden_size=1024,
        num_codebooks=4,
        activation_function="gelu",
        dropout=0.1,
        pad_token_id=2048,
        bos_token_id=2048,
    )
    return MusicgenConfig(text_encoder=text_encoder, audio_encoder=audio_encoder, decoder=decoder)


def random_musicgen_small(device: torch.device) -> LoadedMusicGen:
    """musicgen-small with random weights, built on the device (fast on a GPU) in the dtype
    the music loader would pick there. Its processor has the tiny T5 vocabulary: the token
    ids fall inside T5-base's, and prompt length barely matters next to the decoder steps."""
    dtype = resolve_dtype_float32_on_cpu("auto", device)
    with torch.device(device):
        model = MusicgenForConditionalGeneration(musicgen_small_config())
        randomise_codebooks(model)
    configure_generation(model)
    model.to(dtype).eval()
    compact_lstms(model)
    processor = MusicgenProcessor(
        feature_extractor=EncodecFeatureExtractor(feature_size=1, sampling_rate=32000),
        tokenizer=tiny_music_tokenizer(),
    )
    return LoadedMusicGen(
        spec="musicgen-small (random)",
        model=model,
        processor=processor,
        device=device,
        dtype=dtype,
    )


# --- measuring ----------------------------------------------------------------------------


DECODERS = {"generate": False, "fast": True}  # the decoder's name: generate_music's fast_decode


@dataclass(frozen=True)
class Row:
    model: str
    device: str
    dtype: str
    decoder: str
    batch: int
    clip_seconds: float
    steps: int
    wall_seconds: float
    peak_mib: float
    weights_mib: float

    @property
    def realtime_factor(self) -> float:
        return self.batch * self.clip_seconds / self.wall_seconds

    @property
    def steps_per_second(self) -> float:
        return self.steps / self.wall_seconds


def measure(
    loaded: LoadedMusicGen, batch: int, seconds: float, guidance: float, decoder: str, runs: int
) -> Row:
    descriptions = [PROMPTS[i % len(PROMPTS)] for i in range(batch)]
    fast = DECODERS[decoder]
    generate_music(loaded, descriptions, seconds, guidance=guidance, fast_decode=fast)  # warm-up
    walls = []
    with peak_memory(loaded.device) as peak:
        for _ in range(runs):
            started = time.perf_counter()
            waves = generate_music(
                loaded, descriptions, seconds, guidance=guidance, fast_decode=fast
            )
            _synchronise(loaded.device)
            walls.append(time.perf_counter() - started)
    assert waves.shape == (batch, round(seconds * loaded.sampling_rate)), waves.shape
    return Row(
        model=loaded.spec,
        device=str(loaded.device),
        dtype=str(loaded.dtype).removeprefix("torch."),
        decoder=decoder,
        batch=batch,
        clip_seconds=seconds,
        steps=loaded.steps_for(seconds),
        wall_seconds=statistics.median(walls),
        peak_mib=peak() / MIB,
        weights_mib=loaded.memory_bytes() / MIB,
    )


def measure_both(
    loaded: LoadedMusicGen, batches: list[int], seconds: float, guidance: float, runs: int
) -> list[Row]:
    """Each batch through generate() and the fast loop, one after the other, same model."""
    return [
        measure(loaded, batch, seconds, guidance, decoder, runs)
        for batch in batches
        for decoder in DECODERS
    ]


def _synchronise(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@contextmanager
def peak_memory(device: torch.device) -> Iterator[Callable[[], int]]:
    """Yields a function that returns the peak bytes of the block (call it after the block)."""
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        yield lambda: torch.cuda.max_memory_allocated(device)
        return
    if _reset_peak_rss():
        yield lambda: _status_kib("VmHWM") * 1024
        return
    # No clear_refs (not Linux, or not permitted): sample the resident set instead.
    samples = [_status_kib("VmRSS")]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.005):
            samples.append(_status_kib("VmRSS"))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield lambda: max(samples) * 1024
    finally:
        done.set()
        sampler.join()


def _reset_peak_rss() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")  # 5: reset the peak resident set
    except OSError:
        return False
    return True


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


# --- running ------------------------------------------------------------------------------


def print_table(rows: list[Row], guidance: float, runs: int) -> None:
    print(
        f"\nMusicGen generation, guidance {guidance:g}, median of {runs} runs: real-time "
        "factor = seconds of audio made per second of wall time (above 1: faster than real time)"
    )
    header = (
        f"{'model':<26}{'device':<8}{'dtype':<10}{'decoder':<10}{'batch':>6}{'clip s':>8}"
        f"{'wall s':>9}{'steps/s':>9}{'x generate':>11}{'audio s/s':>11}{'peak MiB':>10}"
        f"{'weights MiB':>13}"
    )
    print(header)
    print("-" * len(header))
    baseline: dict[tuple[str, str, int], float] = {}
    for row in rows:
        shape = (row.model, row.device, row.batch)
        if row.decoder == "generate":
            baseline[shape] = row.steps_per_second
        ratio = row.steps_per_second / baseline[shape] if shape in baseline else float("nan")
        print(
            f"{row.model:<26}{row.device:<8}{row.dtype:<10}{row.decoder:<10}{row.batch:>6}"
            f"{row.clip_seconds:>8.1f}{row.wall_seconds:>9.2f}{row.steps_per_second:>9.1f}"
            f"{ratio:>11.2f}{row.realtime_factor:>11.2f}{row.peak_mib:>10.0f}"
            f"{row.weights_mib:>13.0f}"
        )
    print("peak MiB: CUDA allocated on a GPU; the whole process's resident set on the CPU")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="clip length (default 8)")
    parser.add_argument("--batches", default="1,4", help="batch sizes (default 1,4)")
    parser.add_argument("--guidance", type=float, default=3.0)
    parser.add_argument("--small-on-cpu", action="store_true", help="musicgen-small on the CPU")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's)")
    parser.add_argument("--runs", type=int, default=3, help="timed runs per row (default 3)")
    options = parser.parse_args()
    if options.threads:
        torch.set_num_threads(options.threads)
    batches = [int(b) for b in options.batches.split(",")]
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads, "
        f"CUDA: {torch.cuda.get_device_name() if torch.cuda.is_available() else 'none'}"
    )
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as cache:
        tiny = load_music_model("tiny:music", cache_dir=Path(cache), device="cpu")
        rows += measure_both(tiny, batches, options.seconds, options.guidance, options.runs)
    devices = [torch.device("cuda")] if torch.cuda.is_available() else []
    if options.small_on_cpu:
        devices.append(torch.device("cpu"))
    for device in devices:
        small = random_musicgen_small(device)
        rows += measure_both(small, batches, options.seconds, options.guidance, options.runs)
        del small
        if device.type == "cuda":
            torch.cuda.empty_cache()
    print_table(rows, options.guidance, options.runs)


if __name__ == "__main__":
    main()
