"""The `parameters` text chunk that AUTOMATIC1111's web UI writes into its PNGs, written and read.

Other tools (the web UI's "PNG Info" tab, ComfyUI, image browsers, civitai) read a picture's
settings from this chunk, so atelier writes it the same way:

    a lighthouse in fog, oil painting
    Negative prompt: blurry
    Steps: 4, Sampler: Euler, CFG scale: 0.0, Seed: 7, Size: 512x512, Model: stabilityai/sd-turbo

The prompt may span lines; the `Negative prompt:` line is left out when there is none; the last
line holds `key: value` pairs, and a value with a comma, colon or newline in it is JSON-quoted
(as the web UI's `quote` does). Keys beyond the fixed ones (`Denoising strength`, `Batch size`)
are kept in `extra`, in order.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from PIL import Image
from PIL.PngImagePlugin import PngInfo

CHUNK = "parameters"
NEGATIVE = "Negative prompt:"
# zlib level 1: a fraction of the default's time for a few percent more bytes; the file is
# written on every request, and the encoder is single-threaded.
PNG_COMPRESS_LEVEL = 1
# One `key: value` pair of the last line, as the web UI parses it (a quoted value may hold commas).
_PAIR = re.compile(r'\s*([\w][\w \-/]*):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)')
_SIZE = re.compile(r"^(\d+)x(\d+)$")
_FIXED = ("Steps", "Sampler", "CFG scale", "Seed", "Size", "Model")

# diffusers scheduler classes by the names the web UI gives the same samplers.
SAMPLER_NAMES: Mapping[str, str] = MappingProxyType(
    {
        "EulerDiscreteScheduler": "Euler",
        "EulerAncestralDiscreteScheduler": "Euler a",
        "DPMSolverMultistepScheduler": "DPM++ 2M",
        "DPMSolverSinglestepScheduler": "DPM++ SDE",
        "DDIMScheduler": "DDIM",
        "PNDMScheduler": "PLMS",
        "LMSDiscreteScheduler": "LMS",
        "HeunDiscreteScheduler": "Heun",
        "KDPM2DiscreteScheduler": "DPM2",
        "KDPM2AncestralDiscreteScheduler": "DPM2 a",
        "UniPCMultistepScheduler": "UniPC",
        "LCMScheduler": "LCM",
        "DDPMScheduler": "DDPM",
    }
)


class NotParameters(ValueError):
    """Text that is not an AUTOMATIC1111 parameters block."""


@dataclass(frozen=True)
class GenerationParameters:
    prompt: str
    steps: int
    sampler: str
    cfg_scale: float
    seed: int
    width: int
    height: int
    model: str
    negative_prompt: str = ""
    extra: Mapping[str, str] = field(default_factory=dict)


def sampler_name(scheduler_class: str) -> str:
    return SAMPLER_NAMES.get(scheduler_class, scheduler_class)


def format_parameters(params: GenerationParameters) -> str:
    pairs = {
        "Steps": str(params.steps),
        "Sampler": params.sampler,
        "CFG scale": _number(params.cfg_scale),
        "Seed": str(params.seed),
        "Size": f"{params.width}x{params.height}",
        "Model": params.model,
        **params.extra,
    }
    last = ", ".join(f"{key}: {_quote(value)}" for key, value in pairs.items())
    lines = [params.prompt]
    if params.negative_prompt:
        lines.append(f"{NEGATIVE} {params.negative_prompt}")
    return "\n".join([*lines, last])


def parse_parameters(text: str) -> GenerationParameters:
    """The web UI's own reading: the last line is the settings, a line starting with
    `Negative prompt:` starts the negative prompt, the lines before it are the prompt."""
    *head, last = text.strip("\n").split("\n")
    pairs = {key.strip(): _unquote(value.strip()) for key, value in _PAIR.findall(last)}
    missing = [key for key in _FIXED if key not in pairs]
    if missing:
        raise NotParameters(f"the settings line lacks {', '.join(missing)}")
    prompt_lines: list[str] = []
    negative_lines: list[str] = []
    for line in head:
        if line.startswith(NEGATIVE) and not negative_lines:
            negative_lines.append(line[len(NEGATIVE) :].strip())
        elif negative_lines:
            negative_lines.append(line)
        else:
            prompt_lines.append(line)
    size = _SIZE.match(pairs["Size"])
    if size is None:
        raise NotParameters(f"Size {pairs['Size']!r} is not WxH")
    try:
        return GenerationParameters(
            prompt="\n".join(prompt_lines),
            negative_prompt="\n".join(negative_lines),
            steps=int(pairs["Steps"]),
            sampler=pairs["Sampler"],
            cfg_scale=float(pairs["CFG scale"]),
            seed=int(pairs["Seed"]),
            width=int(size.group(1)),
            height=int(size.group(2)),
            model=pairs["Model"],
            extra={key: value for key, value in pairs.items() if key not in _FIXED},
        )
    except ValueError as bad:
        raise NotParameters(str(bad)) from None


def png_bytes(image: Image.Image, params: GenerationParameters) -> bytes:
    """The image as PNG with its parameters chunk. The same pixels and parameters give the
    same bytes (fixed compression, no timestamps)."""
    info = PngInfo()
    # add_text writes tEXt when the text is Latin-1 and iTXt (UTF-8) otherwise: 画一座雪山 too.
    info.add_text(CHUNK, format_parameters(params))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", pnginfo=info, compress_level=PNG_COMPRESS_LEVEL)
    return buffer.getvalue()


def read_parameters(png: bytes) -> GenerationParameters | None:
    """The parameters a PNG carries, or None when it carries none (or not in this format)."""
    with Image.open(io.BytesIO(png)) as image:
        text = getattr(image, "text", {}).get(CHUNK)
    if not text:
        return None
    try:
        return parse_parameters(text)
    except NotParameters:
        return None


def _number(value: float) -> str:
    return f"{value:g}"


def _quote(value: str) -> str:
    if not any(mark in value for mark in (",", ":", "\n", '"')):
        return value
    return json.dumps(value, ensure_ascii=False)


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == '"':
        try:
            return str(json.loads(value))
        except json.JSONDecodeError:
            return value
    return value
