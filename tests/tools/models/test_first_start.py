"""What the model layer costs and prints on first start: naming a model imports no torch,
transformers' torchvision-fallback notices are hidden, and the one-time SmolLM2 conversion
shows one progress bar line instead of transformers' own bars."""

from __future__ import annotations

import importlib
import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from transformers import LlamaForCausalLM
from transformers.utils import logging as transformers_logging

from tools.models import smollm2
from tools.models.quiet import NOTICE_LOGGER
from tools.models.smollm2 import CONVERSION_LABEL, SMOLLM2_CACHE_NAME, SMOLLM2_GGUF
from tools.models.text import LoadedCausalLM

REPO_ROOT = Path(__file__).resolve().parents[3]
FALLBACK_NOTICE = "requires torchvision (not installed); falling back to"


def _python(code: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=REPO_ROOT,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", **(env or {})},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_naming_a_model_imports_neither_torch_nor_transformers() -> None:
    result = _python(
        "import tools.models.specs, sys; "
        "assert 'torch' not in sys.modules, 'torch'; "
        "assert 'transformers' not in sys.modules, 'transformers'"
    )
    assert result.returncode == 0, result.stderr


def test_the_fallback_notice_filter_drops_only_that_notice(
    caplog: pytest.LogCaptureFixture,
) -> None:
    notices = logging.getLogger(NOTICE_LOGGER)
    with caplog.at_level(logging.WARNING, logger=NOTICE_LOGGER):
        notices.warning(
            "`CLIPImageProcessor` requires torchvision (not installed); falling back to "
            "`CLIPImageProcessorPil` for backward compatibility."
        )
        notices.warning("some other notice")
    assert FALLBACK_NOTICE not in caplog.text
    assert "some other notice" in caplog.text


def test_loading_the_vision_and_clip_models_prints_no_fallback_notice(
    models_cache_dir: Path,
) -> None:
    # Before tools.models is imported the notice prints (the control); after, naming the
    # processors as diffusers does at import, and loading both models, prints none.
    result = _python(
        f"""
        import sys
        from pathlib import Path
        from transformers import CLIPImageProcessor
        print("--- control ends", file=sys.stderr, flush=True)
        from tools.models.vision import load_clip, load_vision
        from transformers import SiglipImageProcessor, Siglip2ImageProcessor
        cache = Path({str(models_cache_dir)!r})
        load_clip("tiny:clip", cache_dir=cache, device="cpu", dtype="float32")
        load_vision("tiny:vision", cache_dir=cache, device="cpu", dtype="float32")
        """
    )
    assert result.returncode == 0, result.stderr
    control, after = result.stderr.split("--- control ends")
    if FALLBACK_NOTICE not in control:
        pytest.skip("transformers prints no torchvision fallback notice here: nothing to hide")
    assert FALLBACK_NOTICE not in after, after


def test_the_first_start_conversion_prints_one_progress_line(
    tiny_chat: LoadedCausalLM,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    gguf = tmp_path / "package" / SMOLLM2_GGUF
    gguf.parent.mkdir()
    gguf.write_bytes(b"stands in for the bundled GGUF")
    monkeypatch.setattr(smollm2, "bundled_smollm2_gguf", lambda role=None: gguf)
    reader = importlib.import_module("transformers.modeling_gguf_pytorch_utils")

    # Stand-ins for the slow GGUF reads that draw the bars transformers draws for them.
    def read_tokenizer(*args: Any, **kwargs: Any) -> Any:
        for _ in transformers_logging.tqdm(range(3), desc="Loading weights"):
            pass
        return tiny_chat.tokenizer

    def read_model(*args: Any, **kwargs: Any) -> LlamaForCausalLM:
        for _ in reader.tqdm(range(3), desc="Converting and de-quantizing GGUF tensors..."):
            pass
        model = LlamaForCausalLM(tiny_chat.model.config)
        model.config.quantization_config = {"quant_method": "gguf"}
        return model

    monkeypatch.setattr(smollm2, "AutoTokenizer", SimpleNamespace(from_pretrained=read_tokenizer))
    monkeypatch.setattr(
        smollm2, "AutoModelForCausalLM", SimpleNamespace(from_pretrained=read_model)
    )
    bars_were_on = transformers_logging.is_progress_bar_enabled()
    reader_tqdm = reader.tqdm
    capfd.readouterr()

    converted = smollm2.ensure_smollm2_converted(tmp_path / "cache")

    printed = capfd.readouterr()
    assert converted == tmp_path / "cache" / SMOLLM2_CACHE_NAME
    assert (converted / "model.safetensors").is_file()
    lines = [line for line in printed.err.split("\n") if line.strip()]
    assert len(lines) == 1, printed.err
    final = lines[0].split("\r")[-1]
    assert final.startswith(CONVERSION_LABEL)
    assert "3/3" in final and "done" in final
    for theirs in ("Loading weights", "Converting and de-quantizing", "Writing model shards"):
        assert theirs not in printed.err
    assert printed.out == ""
    # transformers' bars are as they were for every later load.
    assert transformers_logging.is_progress_bar_enabled() == bars_were_on
    assert reader.tqdm is reader_tqdm
