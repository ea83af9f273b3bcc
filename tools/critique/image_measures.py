"""Measured facts about a picture, for a critique to stand on.

Everything here is computed from the pixels (numpy and Pillow), so a critique can quote
numbers a person can check rather than a model's impression alone:

- brightness: mean luma, 0 (black) to 1 (white);
- contrast: RMS contrast, the standard deviation of luma (0 for a flat field, 0.5 at most);
- colourfulness: Hasler and Süsstrunk's metric (2003), on their scale where 0 is grey,
  33 "moderately" and 109 "extremely" colourful; it agreed with people's ratings at 95%;
- clipping: the shares of pixels crushed to black or blown to white;
- sharpness: variance of the Laplacian of luma at a fixed size, the usual focus measure;
- composition: where the picture's visual weight sits. Weight is edge energy (gradient
  magnitude), the signal saliency models start from: a viewer's eye goes to detail and edges,
  not to flat sky. From its centre of mass we report the distance to the nearest
  rule-of-thirds point (the placement photographers check first), how far the weight is
  off-centre (balance), and how much of it sits in the busiest cell of a 3x3 grid (one clear
  subject versus detail spread evenly). A flat image has no weight to place, and says so.

Measures are taken on a copy scaled to MEASURE_EDGE pixels on its longest side, so the same
picture gives the same figures at any resolution.

`describe` turns them into lines for a model's prompt; `advice` into actions a person could
take, each quoting the figure it rests on.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from PIL import Image

MEASURE_EDGE = 256
# Luma weights of Rec. 709 (sRGB primaries).
_LUMA = np.array([0.2126, 0.7152, 0.0722], dtype=np.float64)
# Hasler and Süsstrunk's verbal scale: the label of the highest threshold reached.
_COLOURFULNESS_SCALE = (
    (0.0, "not colourful"),
    (15.0, "slightly colourful"),
    (33.0, "moderately colourful"),
    (45.0, "averagely colourful"),
    (59.0, "quite colourful"),
    (82.0, "highly colourful"),
    (109.0, "extremely colourful"),
)
_THIRDS = (1 / 3, 2 / 3)
# Mean edge energy per pixel below this (in 0-1 luma units) is a flat field with nothing to
# place; a small subject on a plain ground still has several times more.
_FLAT_ENERGY = 2e-5
# Distance from a thirds point (in frame widths) at which "on the thirds point" stops applying:
# half the spacing between two points.
_THIRDS_REACH = 1 / 6


@dataclass(frozen=True)
class Composition:
    weight_x: float  # centre of visual weight, 0 = left edge, 1 = right edge
    weight_y: float  # 0 = top, 1 = bottom
    thirds_distance: float  # to the nearest rule-of-thirds point, in frame units
    thirds_fit: float  # 1 on a thirds point, 0 at _THIRDS_REACH or further
    balance: float  # 1 = weight centred, 0 = all in a corner
    focus: float  # share of the weight in the busiest 3x3 cell (1/9 = spread evenly)

    @property
    def placement(self) -> str:
        if self.thirds_fit >= 0.5:
            return "on a rule-of-thirds point"
        if math.hypot(self.weight_x - 0.5, self.weight_y - 0.5) < 0.08:
            return "centred"
        return "off both the thirds points and the centre"


@dataclass(frozen=True)
class ImageMeasures:
    width: int
    height: int
    brightness: float
    contrast: float
    colourfulness: float
    clipped_shadows: float  # share of pixels at or near black
    clipped_highlights: float  # share at or near white
    sharpness: float
    composition: Composition | None  # None: a flat image, nothing to place

    @property
    def colourfulness_label(self) -> str:
        return colourfulness_label(self.colourfulness)

    def as_params(self) -> dict[str, Any]:
        """JSON-ready, rounded: what a critique keeps of them."""
        return _rounded(asdict(self))


def measure(image: Image.Image) -> ImageMeasures:
    rgb = _scaled_rgb(image)
    luma = rgb @ _LUMA
    return ImageMeasures(
        width=image.width,
        height=image.height,
        brightness=float(luma.mean()),
        contrast=float(luma.std()),
        colourfulness=colourfulness(rgb),
        clipped_shadows=float((luma <= 0.02).mean()),
        clipped_highlights=float((luma >= 0.98).mean()),
        sharpness=_laplacian_variance(luma),
        composition=composition(luma),
    )


def colourfulness(rgb: np.ndarray) -> float:
    """Hasler and Süsstrunk's M on 0-255 channels: spread plus 0.3 x mean of the two opponent
    channels red-green and yellow-blue."""
    scaled = rgb * 255.0
    red, green, blue = scaled[..., 0], scaled[..., 1], scaled[..., 2]
    rg = red - green
    yb = 0.5 * (red + green) - blue
    spread = math.hypot(float(rg.std()), float(yb.std()))
    offset = math.hypot(float(rg.mean()), float(yb.mean()))
    return spread + 0.3 * offset


def colourfulness_label(value: float) -> str:
    label = _COLOURFULNESS_SCALE[0][1]
    for threshold, name in _COLOURFULNESS_SCALE:
        if value >= threshold:
            label = name
    return label


def composition(luma: np.ndarray) -> Composition | None:
    energy = _edge_energy(luma)
    total = float(energy.sum())
    if total / energy.size < _FLAT_ENERGY:
        return None
    height, width = energy.shape
    ys = (np.arange(height) + 0.5) / height
    xs = (np.arange(width) + 0.5) / width
    x = float((energy.sum(axis=0) * xs).sum() / total)
    y = float((energy.sum(axis=1) * ys).sum() / total)
    distance = min(math.hypot(x - tx, y - ty) for tx in _THIRDS for ty in _THIRDS)
    offset = math.hypot(x - 0.5, y - 0.5) / math.hypot(0.5, 0.5)
    return Composition(
        weight_x=x,
        weight_y=y,
        thirds_distance=distance,
        thirds_fit=max(0.0, 1.0 - distance / _THIRDS_REACH),
        balance=1.0 - offset,
        focus=_busiest_cell_share(energy, total),
    )


def describe(measures: ImageMeasures) -> list[str]:
    """One line per measure, with its scale, for a model's prompt and the critique's footer."""
    m = measures
    lines = [
        f"brightness {m.brightness:.2f} (0 black, 1 white; {_brightness_word(m.brightness)})",
        f"contrast {m.contrast:.2f} (RMS of luma, 0 flat to 0.5; {_contrast_word(m.contrast)})",
        f"colourfulness {m.colourfulness:.0f} (Hasler-Süsstrunk; {m.colourfulness_label})",
        f"clipped to black {m.clipped_shadows:.0%}, to white {m.clipped_highlights:.0%}",
        f"sharpness {m.sharpness:.0f} (Laplacian variance; {_sharpness_word(m.sharpness)})",
    ]
    c = m.composition
    if c is None:
        lines.append("composition: a flat field, no detail or edges to place")
    else:
        lines.append(
            f"composition: visual weight at ({c.weight_x:.2f}, {c.weight_y:.2f}) from top left, "
            f"{c.placement} (nearest thirds point {c.thirds_distance:.2f} away), "
            f"balance {c.balance:.2f}, {c.focus:.0%} of the detail in the busiest ninth"
        )
    return lines


def advice(measures: ImageMeasures) -> list[str]:
    """Actions the figures point to, most pressing first; always at least two (one about the
    composition and one about colour are always possible)."""
    m, actions = measures, []
    if m.contrast < 0.12:
        actions.append(
            f"Widen the tonal range with deeper darks and brighter lights: contrast is only "
            f"{m.contrast:.2f}, so the picture reads flat."
        )
    if m.brightness < 0.25:
        actions.append(
            f"Add light to the main subject: mean brightness is {m.brightness:.2f} of 1, so "
            "detail is lost in the dark."
        )
    elif m.brightness > 0.8:
        actions.append(
            f"Bring the exposure down: mean brightness is {m.brightness:.2f} of 1 and the "
            "light parts wash together."
        )
    if m.clipped_highlights > 0.05:
        actions.append(
            f"Recover the highlights: {m.clipped_highlights:.0%} of the pixels are pure white."
        )
    actions.append(_composition_action(m.composition))
    if m.composition is not None and m.sharpness < 20:
        actions.append(
            f"Sharpen the main subject: sharpness is {m.sharpness:.0f}, so its edges are soft."
        )
    actions.append(_colour_action(m))
    return actions


def _composition_action(c: Composition | None) -> str:
    if c is None:
        return "Give the picture a subject with edges and detail: it is a flat field of tone."
    where = f"({c.weight_x:.2f}, {c.weight_y:.2f})"
    if c.placement == "off both the thirds points and the centre":
        return (
            f"Move the main subject onto a third of the frame: its visual weight sits at {where}, "
            f"{c.thirds_distance:.2f} from the nearest thirds point."
        )
    if c.focus < 0.2:
        return (
            f"Simplify the background so one subject leads: detail is spread evenly, with only "
            f"{c.focus:.0%} of it in the busiest ninth of the frame."
        )
    return (
        f"Keep the subject where it is ({c.placement}, at {where}) and quieten the edges of the "
        "frame so nothing pulls the eye away from it."
    )


def _colour_action(m: ImageMeasures) -> str:
    if m.colourfulness < 15:
        return (
            f"Add one colour accent to lead the eye: colourfulness is {m.colourfulness:.0f} "
            f"({m.colourfulness_label})."
        )
    if m.colourfulness > 109:
        return (
            f"Tone down the saturation around the subject: colourfulness is "
            f"{m.colourfulness:.0f} ({m.colourfulness_label}), so everything competes."
        )
    return (
        f"Keep the palette ({m.colourfulness_label}, {m.colourfulness:.0f}) but give the subject "
        "the one colour the rest of the picture lacks."
    )


def _brightness_word(value: float) -> str:
    return "dark" if value < 0.25 else "dim" if value < 0.4 else "bright" if value > 0.7 else "mid"


def _contrast_word(value: float) -> str:
    return "flat" if value < 0.08 else "low" if value < 0.15 else "high" if value > 0.25 else "fair"


def _sharpness_word(value: float) -> str:
    return "soft" if value < 20 else "crisp" if value > 200 else "moderate"


def _scaled_rgb(image: Image.Image) -> np.ndarray:
    """RGB in 0-1 at MEASURE_EDGE on the longest side (transparency composited on black)."""
    rgb = image.convert("RGB")
    scale = MEASURE_EDGE / max(rgb.size)
    size = (max(1, round(rgb.width * scale)), max(1, round(rgb.height * scale)))
    resized = rgb.resize(size, Image.Resampling.BILINEAR)
    return np.asarray(resized, dtype=np.float64) / 255.0


def _edge_energy(luma: np.ndarray) -> np.ndarray:
    """Gradient magnitude by central differences (Sobel without the smoothing, which the
    downscale already did)."""
    padded = np.pad(luma, 1, mode="edge")
    dx = (padded[1:-1, 2:] - padded[1:-1, :-2]) / 2
    dy = (padded[2:, 1:-1] - padded[:-2, 1:-1]) / 2
    return np.hypot(dx, dy)


def _laplacian_variance(luma: np.ndarray) -> float:
    padded = np.pad(luma * 255.0, 1, mode="edge")
    laplacian = (
        padded[:-2, 1:-1] + padded[2:, 1:-1] + padded[1:-1, :-2] + padded[1:-1, 2:]
    ) - 4 * padded[1:-1, 1:-1]
    return float(laplacian.var())


def _busiest_cell_share(energy: np.ndarray, total: float) -> float:
    rows = np.array_split(energy, 3, axis=0)
    cells = [cell for row in rows for cell in np.array_split(row, 3, axis=1)]
    return max(float(cell.sum()) for cell in cells) / total


def _rounded(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 4)
    if isinstance(value, dict):
        return {key: _rounded(item) for key, item in value.items()}
    return value
