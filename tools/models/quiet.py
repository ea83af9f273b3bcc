"""Library notices a person cannot act on, kept off the console.

transformers logs a notice the first time anything names an image processor class that needs
torchvision (diffusers names CLIPImageProcessor, SiglipImageProcessor and Siglip2ImageProcessor
at import): it falls back to the PIL processor and says so. atelier does not install
torchvision on purpose and works with the PIL processors, so the notice only alarms. The filter
drops exactly that notice; every other message of the logger still gets through.

MusicGen's configs name the codebook size as the decoder's pad and start token, one past its
vocabulary, by design (the real musicgen-small does too); transformers' generic config check
warns that such a token is outside the vocabulary. Only those two tokens, only that warning.

Every saved AutoencoderTiny (TAESD's own too, the tiny image decoder) records
`block_out_channels`, which its constructor does not take, so diffusers says on every load that
it ignores it. Only that attribute of that class.

Only the standard library here: the package's __init__ installs it before transformers loads.
"""

from __future__ import annotations

import logging
import re

# The logger transformers' lazy module uses (transformers/utils/import_utils.py).
NOTICE_LOGGER = "transformers.utils.import_utils"
_FALLBACK_NOTICE = re.compile(r"requires torchvision \(not installed\); falling back to `\w+Pil`")
CONFIG_LOGGER = "transformers.configuration_utils"
_CODEBOOK_TOKENS = re.compile(
    r"^Model config: (pad|bos)_token_id must be `None` or an integer within the vocabulary"
)


class _Hidden(logging.Filter):
    """Drops the records whose message matches; passes every other record."""

    def __init__(self, pattern: re.Pattern[str]) -> None:
        super().__init__()
        self._pattern = pattern

    def filter(self, record: logging.LogRecord) -> bool:
        return not self._pattern.search(record.getMessage())


# diffusers' loggers are standard ones too (diffusers/utils/logging.py).
DIFFUSERS_CONFIG_LOGGER = "diffusers.configuration_utils"
_TINY_DECODER_CONFIG = re.compile(
    r"^The config attributes \{'block_out_channels': [^}]*\} were passed to AutoencoderTiny,"
)

_FILTERS = {
    NOTICE_LOGGER: _Hidden(_FALLBACK_NOTICE),
    CONFIG_LOGGER: _Hidden(_CODEBOOK_TOKENS),
    DIFFUSERS_CONFIG_LOGGER: _Hidden(_TINY_DECODER_CONFIG),
}


def hide_torchvision_fallback_notices() -> None:
    """Install the filters on transformers' loggers (idempotent: adding one twice is a no-op)."""
    for name, hidden in _FILTERS.items():
        logging.getLogger(name).addFilter(hidden)
