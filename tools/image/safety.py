"""What the image tool will not make: a prompt policy, and optionally diffusers' safety checker.

The policy is deliberately narrow so that ordinary art is never refused: "a cat", "a car crash
in a painting", "a bloody sunset", a war scene or a nude figure study all pass. Built in, and
not switchable, is one rule: no sexual content involving minors (a sexual word together with
a word for a child, or a term that means exactly that). The operator adds their own terms
(`blocklist`), matched as whole words or phrases, case-insensitively. `strict` (what a server
asks of its channels that are not age-restricted) refuses sexual words as well.

diffusers' safety checker (a CLIP model that flags nudity in outputs) is off by default: it
needs its own model (CompVis/stable-diffusion-safety-checker, about 1.2 GB) and flags
harmless pictures often enough that an art bot should not impose it. When it is on and flags
a picture, nothing is kept.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from tools.contract import ToolRefused

DEFAULT_CHECKER_MODEL = "CompVis/stable-diffusion-safety-checker"

_SEXUAL = (
    "nude",
    "nudes",
    "naked",
    "nsfw",
    "sex",
    "sexual",
    "sexy",
    "porn",
    "porno",
    "pornographic",
    "erotic",
    "explicit",
    "topless",
    "lingerie",
    "genitals",
    "undressed",
    "hentai",
)
_MINOR = (
    "child",
    "children",
    "kid",
    "kids",
    "minor",
    "minors",
    "underage",
    "toddler",
    "toddlers",
    "infant",
    "preteen",
    "preteens",
    "schoolgirl",
    "schoolgirls",
    "schoolboy",
    "schoolboys",
    "little girl",
    "little boy",
    "young girl",
    "young boy",
)
# Terms that name sexual content involving minors on their own.
_ALWAYS = ("loli", "lolicon", "shota", "shotacon", "csam", "child porn", "child pornography")
_ALWAYS_CJK = ("幼女", "萝莉", "正太", "儿童色情")
MINORS_REFUSAL = (
    "I can't make that image: it asks for sexual content involving minors, which atelier never "
    "makes. Nothing was stored."
)
# Where a server's policy keeps pictures strict (a channel that is not age-restricted).
EXPLICIT_REFUSAL = (
    "I can't make that image here: explicit pictures are made only in age-restricted channels "
    "whose server allows them. Nothing was stored."
)


class ImageRefused(ToolRefused):
    """An image request the tool will not carry out. The message is one line for the person
    who asked, and nothing is stored."""


class PromptBlocked(ImageRefused):
    """A prompt the safety policy refuses."""


class OutputFlagged(ImageRefused):
    """A picture the safety checker flagged."""


@dataclass(frozen=True)
class SafetyPolicy:
    blocklist: tuple[str, ...] = ()  # the operator's terms, on top of the built-in rule
    strict: bool = False  # sexual words refused too (a server's policy sets it per channel)
    safety_checker: bool = False
    checker_model: str = DEFAULT_CHECKER_MODEL

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> SafetyPolicy:
        """Settings keys: `blocklist` (a list of terms, or one comma-separated string),
        `safety_checker` (bool), `safety_checker_model` (a hub id or local directory),
        `strict` (bool)."""
        raw = settings.get("blocklist") or ()
        terms = raw.split(",") if isinstance(raw, str) else list(raw)
        return cls(
            blocklist=tuple(term.strip() for term in terms if term.strip()),
            safety_checker=bool(settings.get("safety_checker", False)),
            strict=bool(settings.get("strict", False)),
            checker_model=str(settings.get("safety_checker_model") or DEFAULT_CHECKER_MODEL),
        )

    def refusal(self, prompt: str) -> str | None:
        """Why the prompt is refused, as one line for the person; None when it is fine."""
        builtin = minors_refusal(prompt)
        if builtin is not None:
            return builtin
        if self.strict and _mentions(prompt, _SEXUAL):
            return EXPLICIT_REFUSAL
        for term in self.blocklist:
            if _mentions(prompt, (term,)):
                return (
                    f"I can't make that image: “{term}” is on this server's image blocklist. "
                    "Nothing was stored."
                )
        return None

    def check_prompt(self, prompt: str) -> None:
        reason = self.refusal(prompt)
        if reason is not None:
            raise PromptBlocked(reason)


def minors_refusal(prompt: str) -> str | None:
    """The built-in rule, which no setting turns off."""
    if any(term in prompt for term in _ALWAYS_CJK) or _mentions(prompt, _ALWAYS):
        return MINORS_REFUSAL
    if _mentions(prompt, _SEXUAL) and _mentions(prompt, _MINOR):
        return MINORS_REFUSAL
    return None


def _mentions(text: str, terms: Iterable[str]) -> bool:
    """Whole words or phrases only: "sex" must not match "Sussex", nor "kid" "kidney"."""
    lowered = " ".join(text.lower().split())
    return any(
        re.search(rf"(?<!\w){re.escape(' '.join(term.lower().split()))}(?!\w)", lowered)
        for term in terms
    )


@dataclass
class OutputChecker:
    """diffusers' StableDiffusionSafetyChecker with its CLIP image processor."""

    model: Any  # StableDiffusionSafetyChecker
    processor: Any  # CLIPImageProcessor
    device: torch.device
    dtype: torch.dtype

    def flagged(self, images: Sequence[Image.Image]) -> list[bool]:
        pixels = self.processor(list(images), return_tensors="pt").pixel_values
        arrays = [np.asarray(image, dtype=np.float32) / 255.0 for image in images]
        with torch.inference_mode():
            _, flags = self.model(clip_input=pixels.to(self.device, self.dtype), images=arrays)
        return [bool(flag) for flag in flags]


def load_output_checker(spec: str, device: torch.device, dtype: torch.dtype) -> OutputChecker:
    """Load the checker from a hub id (the local hub cache when offline) or a directory.
    Raises ImageRefused naming the setting when it cannot be had: with the checker asked
    for, making images without it would be the wrong way to fail."""
    from diffusers.pipelines.stable_diffusion.safety_checker import (
        StableDiffusionSafetyChecker,
    )
    from transformers import CLIPImageProcessor

    try:
        model = StableDiffusionSafetyChecker.from_pretrained(spec, dtype=dtype)
        processor = CLIPImageProcessor.from_pretrained(spec)
    except (OSError, ValueError) as missing:
        where = "directory" if Path(spec).expanduser().is_dir() else "model"
        reason = " ".join(str(missing).split())[:200]
        raise ImageRefused(
            f"The image safety checker is on but its {where} {spec!r} cannot be loaded "
            f"({reason}); set image safety_checker_model to a local copy, or turn "
            "safety_checker off. Nothing was stored."
        ) from missing
    model.to(device).eval()
    return OutputChecker(model=model, processor=processor, device=device, dtype=dtype)


def check_outputs(checker: OutputChecker, images: Sequence[Image.Image]) -> None:
    flags = checker.flagged(images)
    if any(flags):
        which = ", ".join(str(i + 1) for i, flag in enumerate(flags) if flag)
        raise OutputFlagged(
            f"The image safety checker flagged the result (image {which}); nothing was "
            "stored. Try another prompt or seed."
        )
