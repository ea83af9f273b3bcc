"""Batched across people, each job gets what it would have made alone: the tiny image model's
pictures (same seeds, pixel arrays compared) and the tiny music model's clips (same seeds)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from tests.tools.scheduling.helpers import WAIT_S, Batches, batched, in_thread
from tools.image.batching import render_batch, render_work
from tools.image.loaded import LoadedImagePipeline
from tools.image.memory import MemoryOptions
from tools.image.rendering import Render
from tools.models.registry import ModelRegistry
from tools.models.sampling import seeded
from tools.music.batching import Take, compose_takes, take_work
from tools.music.model import LoadedMusicGen, generate_music
from tools.scheduling.queue import Batching
from tools.scheduling.scheduler import Scheduler
from tools.scheduling.work import no_step


@pytest.fixture(scope="module")
def image(tiny_models: ModelRegistry) -> LoadedImagePipeline:
    return tiny_models.get("image")


@pytest.fixture(scope="module")
def music(tiny_models: ModelRegistry) -> LoadedMusicGen:
    return tiny_models.get("music")


def test_batched_pictures_equal_the_same_jobs_run_one_by_one(image: LoadedImagePipeline) -> None:
    guidance, memory = image.defaults.guidance, MemoryOptions()
    jobs = [
        Render("a red fox in snow", "", 64, 64, 4, guidance, (11, 12)),
        Render("a lighthouse in fog at night", "blurry", 64, 64, 4, guidance, (7,)),
        Render("x", "", 64, 64, 4, guidance, (11,)),
    ]
    alone = [render_batch(image, memory, [job], no_step)[0] for job in jobs]
    works = [render_work(image, job, memory, no_step) for job in jobs]
    together, sizes = batched(works, "image", cap=4)
    assert sizes == [4]  # one pipeline call made all four pictures
    for mine, theirs in zip(alone, together, strict=True):
        assert len(mine) == len(theirs)
        for one, other in zip(mine, theirs, strict=True):
            # Batched convolutions may round one level differently, never more.
            difference = np.abs(np.asarray(one, dtype=int) - np.asarray(other, dtype=int))
            assert difference.max() <= 1


def test_batched_clips_equal_the_same_takes_made_one_by_one(music: LoadedMusicGen) -> None:
    takes = [
        Take("rainy night jazz", 1.0, 3.0, seed=5),
        Take("epic orchestral strings and brass, dramatic", 1.0, 3.0, seed=11),
        Take("piano", 1.0, 3.0, seed=5),
    ]
    alone = [compose_takes(music, [take], no_step)[0] for take in takes]
    together, sizes = batched([take_work(music, take, no_step) for take in takes], "music", 3)
    assert sizes == [3]
    for mine, theirs in zip(alone, together, strict=True):
        np.testing.assert_allclose(mine, theirs, atol=1e-6)
    # And a seed makes the clip it made before the scheduler: generate_music, seeded.
    with seeded(5, music.device):
        before = generate_music(music, ["rainy night jazz"], 1.0, guidance=3.0)[0]
    np.testing.assert_allclose(before, together[0], atol=1e-6)


def test_takes_of_other_lengths_or_guidance_are_not_batched(music: LoadedMusicGen) -> None:
    takes = [
        Take("piano", 1.0, 3.0, seed=1),
        Take("piano", 1.5, 3.0, seed=1),
        Take("piano", 1.0, 1.5, seed=1),
    ]
    pace = Batches()
    scheduler = Scheduler(Batching(window_s=0), pace=pace)
    with ThreadPoolExecutor(3) as pool:
        asked = [
            in_thread(pool, scheduler.lane(f"p{i}"), take_work(music, take, no_step))
            for i, take in enumerate(takes)
        ]
        clips = [job.result(WAIT_S * 4) for job in asked]
    scheduler.shutdown()
    assert pace.sizes == [1, 1, 1]
    assert [len(clip) for clip in clips] == [32000, 48000, 32000]
