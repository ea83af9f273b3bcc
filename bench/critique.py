"""How long a critique takes, per kind of piece.

Run:
    .venv/bin/python bench/critique.py            # tiny models, each kind, on this machine
    python3 bench/critique.py                     # on a GPU machine: also the real VLM (below)
    .venv/bin/python bench/critique.py --real on  # the real VLM on the CPU too (minutes)

1. Tiny models (tiny:chat for poems and music, tiny:vision and tiny:clip for images): the
   critique tool's whole path, measured, scored and written, after one warm-up run. Each row
   splits the time into measuring the piece, scoring the four criteria (the model's odds over
   1-10) and writing (WRITING_TOKENS sampled tokens: random weights never stop early, so this
   is the longest a reply can be). Needs the project's dependencies; music needs librosa. A
   kind that cannot run says why and the rest go on.
2. The real vision-language architecture: SmolVLM-500M-Instruct's configuration (SigLIP
   encoder at 512 px, pixel shuffle by 4, a 32-layer SmolLM2-360M) with random weights, built
   here with no download, saved and loaded back through tools/vision_models.load_vision, with
   CLIP ViT-B/32's architecture beside it; one 512x512 picture, read as a critique reads it
   (tools/critique_model.read_piece). This part needs only torch, transformers, numpy and
   pillow, so it runs on a bare GPU machine. Its tokenizer is a word-level one made here
   (one token a word, digits apart), close to SmolVLM's ~1.3 tokens a word.

Prints one table; the figures are medians of --repeat runs (default 1: on a 2-core CPU the
220 tokens of writing take most of the time). --writing-tokens 0 times measuring and scoring
alone.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

from tools.critique import image_measures  # noqa: E402
from tools.critique.model import WRITING_TOKENS, read_piece, vision_reader  # noqa: E402
from tools.critique.rubric import Grounds  # noqa: E402
from tools.models.specs import ModelUnavailable  # noqa: E402
from tools.models.vision import (  # noqa: E402
    SMOLVLM_TEMPLATE,
    byte_level_clip_tokenizer,
    load_clip,
    load_vision,
)

REPO = Path(__file__).resolve().parents[1]
POEM = "An old silent pond / A frog jumps into the deep pond / splash! silence again"


@dataclass
class Row:
    kind: str
    model: str
    device: str = ""
    dtype: str = ""
    runs: list[dict[str, float]] = field(default_factory=list)
    note: str = ""

    def median(self, phase: str) -> float:
        return statistics.median(run[phase] for run in self.runs)


class Phases:
    """Splits a run at the progress labels the critique reports."""

    def __init__(self) -> None:
        self.marks: list[tuple[str, float]] = [("measure", time.perf_counter())]

    def __call__(self, _fraction: float, label: str) -> None:
        phase = "score" if label.startswith("scoring") else "write" if "writing" in label else ""
        if phase and phase != self.marks[-1][0]:
            self.marks.append((phase, time.perf_counter()))

    def done(self) -> dict[str, float]:
        end = time.perf_counter()
        times = {"measure": 0.0, "score": 0.0, "write": 0.0}
        for (phase, start), (_next, stop) in zip(
            self.marks, [*self.marks[1:], ("", end)], strict=True
        ):
            times[phase] += stop - start
        times["total"] = end - self.marks[0][1]
        return times


# --- tiny models, the whole tool --------------------------------------------------------------


def tiny_rows(models_dir: Path, repeat: int, kinds: list[str], writing_tokens: int) -> list[Row]:
    try:
        from tools.contract import ArtifactKind, FocusArtifact, ToolContext
        from tools.critique.tool import CritiqueArgs, critique
        from tools.models.text import load_causal_lm
    except ImportError as missing:
        return [Row(kind, "tiny", note=f"skipped: {missing}") for kind in kinds]
    files = Path(tempfile.mkdtemp(prefix="critique-bench-"))
    cases = {
        "poem": (CritiqueArgs(poem=POEM, seed=1), None),
        "image": (CritiqueArgs(seed=1), _image_focus(files, FocusArtifact, ArtifactKind)),
        "music": (CritiqueArgs(seed=1), _music_focus(files, FocusArtifact, ArtifactKind)),
    }
    rows = []
    for kind in kinds:
        spec = "tiny:vision + tiny:clip" if kind == "image" else "tiny:chat"
        row = Row(kind, spec, "cpu", "float32")
        try:
            loaded = {
                "critique": load_causal_lm(
                    "tiny:chat", cache_dir=models_dir, device="cpu", dtype="float32"
                ),
                "vision": load_vision(
                    "tiny:vision", cache_dir=models_dir, device="cpu", dtype="float32"
                ),
                "clip": load_clip("tiny:clip", cache_dir=models_dir, device="cpu", dtype="float32"),
            }
            args, focus = cases[kind]
            # A short first run pays for imports and caches (librosa takes seconds) unmeasured.
            warm = {"writing_tokens": 2}
            critique(args, ToolContext(models=_Models(loaded), focus=focus, settings=warm))
            for _ in range(repeat):
                phases = Phases()
                settings = {"writing_tokens": writing_tokens}
                context = ToolContext(
                    models=_Models(loaded), progress=phases, focus=focus, settings=settings
                )
                critique(args, context)
                row.runs.append(phases.done())
        except (ModelUnavailable, ImportError) as missing:
            row.note = f"skipped: {missing}"
        rows.append(row)
    return rows


class _Models:
    def __init__(self, loaded: dict[str, object]) -> None:
        self.loaded = loaded

    def get(self, role: str) -> object:
        return self.loaded[role]


def _image_focus(files: Path, focus_type: type, kinds: type) -> object:
    path = files / "picture.png"
    _test_picture().save(path)
    return focus_type(1, kinds.IMAGE, "a sunlit harbour", None, path, "image/png", {})


def _music_focus(files: Path, focus_type: type, kinds: type) -> object | None:
    try:
        import soundfile
    except ImportError:
        return None
    rate, seconds = 22050, 8
    t = np.arange(rate * seconds) / rate
    tune = 0.2 * np.sin(2 * np.pi * 220 * t) * (1 + np.sin(2 * np.pi * 2 * t))  # 120 BPM swell
    path = files / "tune.wav"
    soundfile.write(path, tune.astype(np.float32), rate)
    return focus_type(2, kinds.MUSIC, "a calm piano piece", None, path, "audio/wav", {})


def _test_picture(size: int = 512) -> Image.Image:
    """A sky gradient with a warm disc on a thirds point: some colour, edges, a subject."""
    yy, xx = np.mgrid[0:size, 0:size] / size
    pixels = np.stack([40 + 120 * yy, 90 + 100 * yy, 200 - 60 * yy], axis=-1)
    disc = (xx - 2 / 3) ** 2 + (yy - 1 / 3) ** 2 < 0.06**2
    pixels[disc] = (250, 190, 60)
    return Image.fromarray(pixels.astype(np.uint8))


# --- SmolVLM-500M's architecture, random weights -------------------------------------------------


def smolvlm_500m_config(vocab: dict[str, int]) -> object:
    """HuggingFaceTB/SmolVLM-500M-Instruct's configuration, written out (no download)."""
    from transformers import Idefics3Config

    return Idefics3Config(
        vision_config={
            "hidden_size": 768,
            "intermediate_size": 3072,
            "num_hidden_layers": 12,
            "num_attention_heads": 12,
            "image_size": 512,
            "patch_size": 16,
        },
        text_config={
            "model_type": "llama",
            "vocab_size": 49280,
            "hidden_size": 960,
            "intermediate_size": 2560,
            "num_hidden_layers": 32,
            "num_attention_heads": 15,
            "num_key_value_heads": 5,
            "max_position_embeddings": 8192,
            "rope_theta": 100000.0,
            "rms_norm_eps": 1e-5,
            "tie_word_embeddings": False,
        },
        scale_factor=4,
        image_token_id=vocab["<image>"],
        pad_token_id=vocab["<|endoftext|>"],
        tie_word_embeddings=False,
    )


def word_level_tokenizer() -> tuple[object, dict[str, int]]:
    """One token a word (unknown words share one id), digits one by one, SmolVLM's specials."""
    from tokenizers import Tokenizer, pre_tokenizers
    from tokenizers.models import WordLevel
    from transformers import PreTrainedTokenizerFast

    specials = [
        "<|endoftext|>",
        "<|im_start|>",
        "<end_of_utterance>",
        "<fake_token_around_image>",
        "<image>",
        "<global-img>",
        *(f"<row_{r}_col_{c}>" for r in range(1, 7) for c in range(1, 7)),
    ]
    plain = ["<unk>", *"0123456789", *".,:;!?'\"()-/", "User", "Assistant", "System"]
    vocab = {token: index for index, token in enumerate([*plain, *specials])}
    model = Tokenizer(WordLevel(vocab, unk_token="<unk>"))
    model.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.WhitespaceSplit(),
            pre_tokenizers.Punctuation(),
            pre_tokenizers.Digits(individual_digits=True),
        ]
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=model,
        unk_token="<unk>",
        eos_token="<end_of_utterance>",
        pad_token="<|endoftext|>",
        additional_special_tokens=specials[1:],
    )
    return tokenizer, vocab


def build_real_vlm(into: Path) -> None:
    from transformers import Idefics3ForConditionalGeneration, Idefics3Processor
    from transformers.models.idefics3.image_processing_pil_idefics3 import (
        Idefics3ImageProcessorPil,
    )

    tokenizer, vocab = word_level_tokenizer()
    image_processor = Idefics3ImageProcessorPil(
        do_image_splitting=True,
        size={"longest_edge": 2048},
        max_image_size={"longest_edge": 512},
    )
    processor = Idefics3Processor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        image_seq_len=64,  # (512 / 16)^2 patches / 4^2 pixel shuffle
        chat_template=SMOLVLM_TEMPLATE,
    )
    with torch.device("cuda" if torch.cuda.is_available() else "cpu"):
        model = Idefics3ForConditionalGeneration(smolvlm_500m_config(vocab)).to(torch.bfloat16)
    model.save_pretrained(into)
    processor.save_pretrained(into)


def build_real_clip(into: Path) -> None:
    from transformers import CLIPConfig, CLIPModel, CLIPProcessor
    from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

    tokenizer = byte_level_clip_tokenizer()
    config = CLIPConfig(  # the defaults are ViT-B/32's
        text_config={"vocab_size": len(tokenizer), "max_position_embeddings": 77}
    )
    CLIPModel(config).save_pretrained(into)
    CLIPProcessor(image_processor=CLIPImageProcessorPil(), tokenizer=tokenizer).save_pretrained(
        into
    )


def real_vlm_row(repeat: int, writing_tokens: int) -> Row:
    row = Row("image", "SmolVLM-500M arch (random) + CLIP B/32 arch")
    work = Path(tempfile.mkdtemp(prefix="critique-vlm-"))
    started = time.perf_counter()
    build_real_vlm(work / "vlm")
    build_real_clip(work / "clip")
    built = time.perf_counter()
    vision = load_vision(str(work / "vlm"), cache_dir=work, device="auto", dtype="auto")
    clip = load_clip(str(work / "clip"), cache_dir=work, device="auto", dtype="auto")
    loaded = time.perf_counter()
    row.device, row.dtype = str(vision.device), str(vision.dtype).removeprefix("torch.")
    picture = _test_picture(512)
    for index in range(repeat + 1):  # the first run warms up kernels, unmeasured
        phases = Phases()
        grounds = _image_grounds(picture, clip.similarity(picture, "a sunlit harbour"))
        reader = vision_reader(vision, picture)
        tokens = writing_tokens if index else 2
        read_piece(reader, grounds, None, seed=index, writing_tokens=tokens, step=phases)
        _synchronize()
        if index:
            row.runs.append(phases.done())
    views = vision.inputs("<image>", picture)["pixel_values"].shape[1]
    row.note = (
        f"{views} views x 64 image tokens; built in {built - started:.0f} s, "
        f"loaded in {loaded - built:.1f} s; {_peak_memory()}"
    )
    return row


def _image_grounds(picture: Image.Image, similarity: float) -> Grounds:
    """What the critique tells the model about a picture (its measurements and CLIP)."""
    measured = image_measures.measure(picture)
    lines = [*image_measures.describe(measured), f"CLIP similarity to its prompt {similarity:.2f}"]
    return Grounds(
        intro="An image made from the prompt 'a sunlit harbour', 512x512 pixels.",
        piece=None,
        lines=tuple(lines),
        advice=tuple(image_measures.advice(measured)),
        evidence={},
        measurements={},
    )


def _synchronize() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def _peak_memory() -> str:
    if not torch.cuda.is_available():
        return "CPU"
    return f"peak GPU memory {torch.cuda.max_memory_allocated() / 2**30:.1f} GiB"


# --- the table -----------------------------------------------------------------------------------


def print_table(rows: list[Row], writing_tokens: int, out: Callable[[str], None] = print) -> None:
    out(f"critique latency, median seconds (up to {writing_tokens} tokens written)")
    header = ("kind", "model", "device", "dtype", "runs", "total", "measure", "score", "write")
    widths = (6, 44, 7, 9, 5, 7, 8, 7, 7)
    out("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    for row in rows:
        if not row.runs:
            out(f"{row.kind.ljust(6)}  {row.model.ljust(44)}  {row.note}")
            continue
        cells = (
            row.kind,
            row.model,
            row.device,
            row.dtype,
            str(len(row.runs)),
            *(f"{row.median(phase):.2f}" for phase in ("total", "measure", "score", "write")),
        )
        out("  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)))
        if row.note:
            out(f"{'':6}  {row.note}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument(
        "--writing-tokens",
        type=int,
        default=WRITING_TOKENS,
        help="tokens each critique writes (random weights always write all of them)",
    )
    parser.add_argument("--kinds", nargs="+", default=["poem", "image", "music"])
    parser.add_argument("--real", choices=("auto", "on", "off"), default="auto")
    parser.add_argument("--models-dir", type=Path, default=REPO / "data" / "test-models")
    args = parser.parse_args()
    torch.manual_seed(0)
    tokens = args.writing_tokens
    rows = tiny_rows(args.models_dir, args.repeat, args.kinds, tokens) if args.kinds else []
    if args.real == "on" or (args.real == "auto" and torch.cuda.is_available()):
        rows.append(real_vlm_row(args.repeat, tokens))
    elif args.real == "auto":
        rows.append(Row("image", "SmolVLM-500M arch (random)", note="skipped: no CUDA here"))
    print_table(rows, tokens)


if __name__ == "__main__":
    main()
