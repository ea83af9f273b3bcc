"""The image fast path (tools/image/fast.py, warmup.py): its options come from the settings, a
CPU load changes nothing and compiles nothing, the warm-up plan lists the batch sizes to
compile, and the module changes it makes (fused QKV with SDPA, channels_last) keep the
picture. The CUDA half (compiling, the warm-up itself) runs in bench/gpu.py, not here."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from diffusers import DiffusionPipeline

from agent.config import Settings
from tools.image.fast import FastOptions, batch_sizes, is_compiled, optimise_modules
from tools.image.pipeline import load_image_pipeline, ready_line
from tools.image.warmup import WarmShape, describe_plan, warm_plan


def test_the_options_are_read_from_the_settings() -> None:
    image = Settings(image_compile=False, image_compile_batches="8, 1,4").tool_settings["image"]
    assert FastOptions.from_settings(image) == FastOptions(compile=False, compile_batches=(1, 4, 8))
    assert FastOptions.from_settings({}) == FastOptions(compile=True, compile_batches=(1, 2, 4))
    assert Settings().tool_settings["image"]["compile"] is True


@pytest.mark.parametrize("bad", ["", "0", "1,x", "65", "2,,4"])
def test_bad_batch_sizes_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="image_compile_batches"):
        batch_sizes(bad)


def test_the_warm_up_plan_lists_each_batch_size_per_decoder() -> None:
    plan = warm_plan((1, 2, 4), 512, tiny_decoder=True)
    assert [(shape.batch, shape.tiny_decoder) for shape in plan] == [
        (1, False), (1, True), (2, False), (2, True), (4, False), (4, True),
    ]  # fmt: skip
    assert {(shape.width, shape.height) for shape in plan} == {(512, 512)}
    assert warm_plan((1, 8), 1024, tiny_decoder=False) == (
        WarmShape(1, 1024, 1024, False),
        WarmShape(8, 1024, 1024, False),
    )
    assert describe_plan(plan) == "batches 1, 2, 4 at 512x512 (full VAE, tiny decoder)"


def test_a_cpu_load_compiles_nothing_and_says_so(models_cache_dir: Path) -> None:
    settings = {"compile": True, "compile_batches": "1,2", "decoder": "tiny:decoder"}
    loaded = load_image_pipeline(
        "tiny:image", cache_dir=models_cache_dir, device="cpu", settings=settings
    )
    assert loaded.speedups == ()
    pipe = loaded.text2img
    assert not is_compiled(pipe.unet) and not is_compiled(pipe.vae.decoder)
    assert loaded.decoder is not None and not is_compiled(loaded.decoder.module.decoder)
    processors = {type(p).__name__ for p in pipe.unet.attn_processors.values()}
    assert processors == {"AttnProcessor2_0"}  # diffusers' own default, untouched
    assert not pipe.unet.conv_in.weight.is_contiguous(memory_format=torch.channels_last)
    line = ready_line(loaded, ())
    assert line.startswith("image model tiny:image ready on cpu in ")
    assert "no fast path on cpu, tiny decoder tiny:decoder" in line and "\n" not in line


def test_fused_projections_and_channels_last_keep_the_picture(models_cache_dir: Path) -> None:
    plain = _fresh_tiny(models_cache_dir)
    fast = _fresh_tiny(models_cache_dir)
    applied = optimise_modules(fast, None)
    assert applied == ("SDPA", "fused QKV (UNet, VAE)", "channels_last")
    processors = {type(p).__name__ for p in fast.unet.attn_processors.values()}
    assert processors == {"FusedAttnProcessor2_0"}
    assert fast.unet.conv_in.weight.is_contiguous(memory_format=torch.channels_last)
    before, after = _picture(plain), _picture(fast)
    assert before.shape == after.shape == (32, 32, 3)
    assert np.abs(before.astype(int) - after.astype(int)).max() <= 2  # rounding only


def _fresh_tiny(models_cache_dir: Path) -> DiffusionPipeline:
    loaded = load_image_pipeline("tiny:image", cache_dir=models_cache_dir, device="cpu")
    return loaded.text2img


def _picture(pipe: DiffusionPipeline) -> np.ndarray:
    with torch.inference_mode():
        image = pipe(
            "a lighthouse in fog",
            num_inference_steps=2,
            guidance_scale=5.0,
            generator=torch.Generator("cpu").manual_seed(3),
            output_type="pil",
        ).images[0]
    return np.asarray(image)


def test_a_failed_compile_leaves_a_working_uncompiled_model(
    models_cache_dir: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import tools.image.pipeline as pipeline
    from tools.image.fast import compile_modules
    from tools.image.rendering import Render, render

    def compiled(pipe: DiffusionPipeline, decoder: object, *_args: object) -> tuple[str, ...]:
        compile_modules(pipe, decoder)  # as on CUDA; nothing compiles until the first call
        return ("float32", "compiled")

    def refused(*_args: object) -> None:
        raise RuntimeError("inductor could not find a C++ compiler\nsee the log above")

    monkeypatch.setattr(pipeline, "speed_up", compiled)
    monkeypatch.setattr(pipeline, "warm_up", refused)
    with caplog.at_level("WARNING", logger="tools.image.pipeline"):
        loaded = load_image_pipeline("tiny:image", cache_dir=models_cache_dir, device="cpu")
    assert loaded.speedups == ("float32",) and not is_compiled(loaded.text2img.unet)
    (line,) = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert "compiling the image model failed (inductor could not find a C++ compiler" in line
    assert "ATELIER_IMAGE_COMPILE=false" in line and "\n" not in line
    job = Render("a lighthouse", "", 32, 32, 1, 5.0, (1,))
    assert [image.size for image in render(loaded, job, lambda _d, _t: None)] == [(32, 32)]
