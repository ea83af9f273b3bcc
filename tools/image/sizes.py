"""Pixel geometry: the aspect ratios offered, sizes at a model's native resolution, an
upscale's size, the operator's cap on pixels per request, and the cells of a grid."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from PIL import Image

from tools.image.safety import ImageRefused

ASPECTS: Mapping[str, tuple[int, int]] = {
    "1:1": (1, 1),
    "3:2": (3, 2),
    "2:3": (2, 3),
    "16:9": (16, 9),
    "9:16": (9, 16),
}
MAX_UPSCALED_SIDE = 2048


def size_for(aspect: str, native: int) -> tuple[int, int]:
    """An aspect ratio at the model's native pixel count, each side a multiple of 64 (of 8 for
    models under 512 px): SDXL's 16:9 is 1344x768, sd-turbo's 1:1 is 512x512."""
    w, h = ASPECTS[aspect]
    scale = native / math.sqrt(w * h)
    step = 64 if native >= 512 else 8
    return _round_to(w * scale, step), _round_to(h * scale, step)


def fit_size(width: int, height: int, *, native: int) -> tuple[int, int]:
    """A picture's shape at the model's native pixel count, sides multiples of 8."""
    scale = native / math.sqrt(width * height)
    return _round_to(width * scale, 8), _round_to(height * scale, 8)


def upscaled_size(number: int, image: Image.Image) -> tuple[int, int]:
    """Twice the picture's size, refused past MAX_UPSCALED_SIDE."""
    width, height = (_round_to(side * 2, 8) for side in image.size)
    if max(width, height) > MAX_UPSCALED_SIDE:
        raise ImageRefused(
            f"#{number} is {image.width}x{image.height}; twice that is over the "
            f"{MAX_UPSCALED_SIDE} px I upscale to. Nothing was stored."
        )
    return width, height


def check_pixels(width: int, height: int, count: int, settings: Mapping[str, Any]) -> None:
    """Refuse a render over the operator's pixel cap (Settings.image_max_pixels, as the
    tool's `max_pixels` setting): pixels are what an image run costs, in time and memory."""
    most = settings.get("max_pixels")
    if most is None or width * height * count <= most:
        return
    what = f"{count} pictures of {width}x{height}" if count > 1 else f"{width}x{height}"
    fewer = most // (width * height)
    hint = f": ask for {fewer} at a time" if count > 1 and fewer >= 1 else ""
    verb = "are" if count > 1 else "is"
    raise ImageRefused(
        f"{what} {verb} {_pixels(width * height * count)}; atelier renders at most "
        f"{_pixels(most)} per request here{hint}. Nothing was stored."
    )


def _pixels(count: int) -> str:
    return f"{count / 1e6:.1f} megapixels" if count >= 100_000 else f"{count:,} pixels"


def _round_to(value: float, step: int) -> int:
    return max(step, int(round(value / step)) * step)


def grid_cell(grid: Image.Image, cell: int, cols: int, width: int, height: int) -> Image.Image:
    col, row = (cell - 1) % cols, (cell - 1) // cols
    return grid.crop((col * width, row * height, (col + 1) * width, (row + 1) * height))


def make_grid(images: Sequence[Image.Image]) -> tuple[Image.Image, int]:
    """Images side by side (four as 2x2), and the number of columns."""
    cols = 2 if len(images) == 4 else len(images)
    rows = math.ceil(len(images) / cols)
    width, height = images[0].size
    grid = Image.new("RGB", (cols * width, rows * height), "white")
    for index, image in enumerate(images):
        grid.paste(image, ((index % cols) * width, (index // cols) * height))
    return grid, cols
