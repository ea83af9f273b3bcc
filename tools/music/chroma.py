"""A clip's melody as MusicGen-Melody hears it: a chromagram with one pitch class a frame.

MusicgenMelodyFeatureExtractor (transformers) computes it through torchaudio, which atelier
does not install, so this is its computation with torch and scipy, step by step as it does:
  the clip mono, resampled to the extractor's rate (32 kHz; polyphase filtering here,
  torchaudio's sinc resampler there), and cut to its `chunk_length` seconds (30)
  a clip shorter than one FFT padded with silence on both sides to `n_fft` samples
  the power spectrogram (|STFT|^2) with a periodic Hann window of `n_fft`, hop `hop_length`,
  centred frames with reflect padding and window-normalised, as torchaudio's Spectrogram
  (normalized=True) makes it
  the 12 chroma bins through transformers' chroma_filter_bank (tuning 0, C first)
  each frame divided by its largest bin, then only that bin kept: a one-hot row per frame
A demucs stem split (the extractor's 4-D input) is not done: the clip is used as it is.

30 s at 32 kHz and a 4096 hop gives 235 frames, the model's chroma_length.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from transformers.audio_utils import chroma_filter_bank

from tools.music.files import resample, to_mono


@dataclass(frozen=True)
class ChromaSettings:
    """The feature extractor's parameters, as its preprocessor_config.json gives them."""

    sampling_rate: int = 32000
    n_fft: int = 16384
    hop_length: int = 4096
    num_chroma: int = 12
    chunk_length: int = 30  # seconds of a clip the model hears

    @classmethod
    def of(cls, config: Mapping[str, Any]) -> ChromaSettings:
        """From a preprocessor_config.json's fields; the extractor's defaults for the rest."""
        names = cls.__dataclass_fields__
        return cls(**{name: int(config[name]) for name in names if name in config})

    @property
    def max_samples(self) -> int:
        return self.chunk_length * self.sampling_rate

    def filters(self) -> torch.Tensor:
        """(num_chroma, n_fft // 2 + 1): how much each frequency bin adds to each pitch class."""
        bank = chroma_filter_bank(
            num_frequency_bins=self.n_fft,
            num_chroma=self.num_chroma,
            sampling_rate=self.sampling_rate,
            tuning=0,
        )
        return torch.from_numpy(bank).float()


def melody_chroma(samples: np.ndarray, rate: int, settings: ChromaSettings) -> torch.Tensor:
    """The clip's one-hot chromagram, float32 (1, frames, num_chroma): MusicGen-Melody's
    `input_features` for one clip."""
    mono = resample(to_mono(np.asarray(samples, dtype=np.float32)), rate, settings.sampling_rate)
    wave = torch.from_numpy(np.ascontiguousarray(mono[: settings.max_samples]))
    if len(wave) < settings.n_fft:
        pad = settings.n_fft - len(wave)
        wave = torch.nn.functional.pad(wave, (pad // 2, pad // 2 + pad % 2))
    power = _power_spectrogram(wave, settings)
    raw = settings.filters() @ power  # (num_chroma, frames)
    normalised = torch.nn.functional.normalize(raw, p=float("inf"), dim=0, eps=1e-6)
    strongest = normalised.argmax(dim=0)
    one_hot = torch.nn.functional.one_hot(strongest, settings.num_chroma).float()
    return one_hot[None]


def _power_spectrogram(wave: torch.Tensor, settings: ChromaSettings) -> torch.Tensor:
    """(n_fft // 2 + 1, frames) of |STFT|^2, scaled as torchaudio's normalized=True scales it
    (by the window's norm), which the per-frame normalisation then cancels anyway."""
    window = torch.hann_window(settings.n_fft)
    spectrum = torch.stft(
        wave,
        n_fft=settings.n_fft,
        hop_length=settings.hop_length,
        win_length=settings.n_fft,
        window=window,
        center=True,
        pad_mode="reflect",
        normalized=False,
        onesided=True,
        return_complex=True,
    )
    spectrum = spectrum / window.pow(2).sum().sqrt()
    return spectrum.abs().pow(2)
