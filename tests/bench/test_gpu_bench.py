"""`make bench-gpu` (bench/gpu.py) is ready for whoever has a GPU next: without CUDA it says so
in one line and exits 0, and --cpu-smoke runs every section at toy sizes and prints every
figure issue 17's Show asks for, each with the device's name. No figure's value is asserted:
speed targets live in the bench's output, not in tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[2]
BENCH = REPO / "bench" / "gpu.py"
FIGURES = (
    "image start-up",
    "music batch 1, fast loop",
    "music batch 1, generate()",
    "music batch 4, fast loop",
    "music batch 4, generate()",
    "music batch 8, fast loop",
    "music batch 8, generate()",
    "images batch 8, tiny decoder",
    "images batch 8, full VAE",
    "eight people's images, batched vs one by one",
    "atelier vs plain diffusers at concurrency 1",
    "chat batch 1, static cache",
)


def run_bench(*flags: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    return subprocess.run(
        [sys.executable, str(BENCH), *flags],
        cwd=REPO,
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA: the bench runs")
def test_without_cuda_it_says_so_in_one_line_and_exits_0() -> None:
    done = run_bench()
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "bench-gpu: no CUDA device here; nothing measured (--cpu-smoke runs toy sizes)"
    ]


def test_the_cpu_smoke_prints_every_figure_with_the_device() -> None:
    done = run_bench("--cpu-smoke")
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    for label in FIGURES:
        shown = [line for line in lines if line.startswith(f"{label}: ")]
        assert len(shown) == 1, (label, done.stdout)
        assert shown[0].endswith(f"[CPU x{os.cpu_count()}, toy sizes]")
    assert "Traceback" not in done.stderr


def test_an_unknown_section_is_refused_in_one_line() -> None:
    done = run_bench("--cpu-smoke", "--sections", "image,videos")
    assert done.returncode == 2
    assert "no such sections: videos" in done.stderr and "Traceback" not in done.stderr
