"""PNG encoding in worker processes (tools/image/png_pool.py): the same bytes as encoding in
the thread, pictures back in the order given, a new pool after a shutdown, and the thread's
own encoder when no process can be started."""

from __future__ import annotations

import os
from collections.abc import Iterator

import numpy as np
import pytest
from PIL import Image

from tools.image import png_pool
from tools.image.png_params import GenerationParameters, png_bytes, read_parameters
from tools.image.png_pool import encode_pngs, shutdown_png_pool


def params(prompt: str, seed: int) -> GenerationParameters:
    return GenerationParameters(prompt, 1, "Euler", 0.0, seed, 64, 48, "tiny:image")


def pictures() -> list[tuple[Image.Image, GenerationParameters]]:
    noise = np.random.default_rng(5)
    return [
        (Image.fromarray(noise.integers(0, 256, (48, 64, 3), dtype=np.uint8)), params(p, i))
        for i, p in enumerate(["a lighthouse in fog", "画一座雪山", "rain, at night: neon"])
    ]


@pytest.fixture(autouse=True)
def fresh_pool() -> Iterator[None]:
    shutdown_png_pool()
    yield
    shutdown_png_pool()


def test_the_pool_writes_the_bytes_the_thread_would() -> None:
    items = pictures()
    pooled = encode_pngs(items)
    assert pooled == [png_bytes(image, chunk) for image, chunk in items]
    assert [read_parameters(png).prompt for png in pooled] == [c.prompt for _i, c in items]


def test_it_encodes_in_other_processes_and_starts_again_after_a_shutdown() -> None:
    pool = png_pool._the_pool()
    assert pool is not None
    assert pool.submit(os.getpid).result() != os.getpid()
    shutdown_png_pool()
    items = pictures()[:1]
    assert encode_pngs(items) == [png_bytes(*items[0])]


def test_without_processes_the_thread_encodes(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_processes(*_args: object, **_kwargs: object) -> None:
        raise OSError("no semaphores here")

    monkeypatch.setattr(png_pool, "ProcessPoolExecutor", no_processes)
    items = pictures()
    assert encode_pngs(items) == [png_bytes(image, chunk) for image, chunk in items]
