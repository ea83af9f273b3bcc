"""The tiny decoder (ATELIER_MODEL_IMAGE_DECODER, tools/image/decoders.py): loaded beside the
image model when set, making the pictures `image_decoder_use` names, at the size asked, with
the piece's params saying which decoder made them; and refused in one line when it cannot be
had or does not fit the image model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from tools.contract import ToolContext
from tools.image.decoders import FULL_VAE, tiny_decoder_module, uses_tiny
from tools.image.loaded import LoadedImagePipeline
from tools.image.pipeline import load_image_pipeline
from tools.image.png_params import read_parameters
from tools.image.tool import ImageArgs, make_image
from tools.models.specs import ModelUnavailable

TINY = "tiny:decoder"


@pytest.fixture(scope="module")
def with_decoder(models_cache_dir: Path) -> LoadedImagePipeline:
    return load_image_pipeline(
        "tiny:image", cache_dir=models_cache_dir, device="cpu", settings={"decoder": TINY}
    )


class ImageOnly:
    def __init__(self, loaded: LoadedImagePipeline) -> None:
        self.loaded = loaded

    def get(self, role: str) -> LoadedImagePipeline:
        assert role == "image"
        return self.loaded


def made(loaded: LoadedImagePipeline, use: str, **args: Any) -> Any:
    context = ToolContext(ImageOnly(loaded), {"decoder_use": use})
    return make_image(ImageArgs(prompt="a lighthouse in fog", seed=7, **args), context)


def pixels(png: bytes) -> np.ndarray:
    import io

    with Image.open(io.BytesIO(png)) as image:
        return np.asarray(image.convert("RGB"))


def test_the_tiny_decoder_is_built_once_and_loaded_beside_the_model(
    with_decoder: LoadedImagePipeline, models_cache_dir: Path
) -> None:
    assert (models_cache_dir / "tiny-decoder" / "config.json").is_file()
    assert with_decoder.decoder is not None and with_decoder.decoder.spec == TINY
    assert with_decoder.decoder.upscale == with_decoder.vae_scale_factor == 2
    vae_and_all = sum(p.numel() * 4 for p in with_decoder.decoder.module.parameters())
    assert with_decoder.memory_bytes() > vae_and_all  # the budget counts the decoder too


def test_always_decodes_a_single_picture_with_it_at_the_size_asked(
    with_decoder: LoadedImagePipeline,
) -> None:
    tiny = made(with_decoder, "always", aspect="3:2")
    full = made(with_decoder, "never", aspect="3:2")
    assert tiny.params["decoder"] == TINY and full.params["decoder"] == FULL_VAE
    assert (tiny.params["width"], tiny.params["height"]) == (40, 24)
    assert pixels(tiny.media.data).shape == pixels(full.media.data).shape == (24, 40, 3)
    # Same latents, another decoder: other pixels, and the PNG names the decoder it used.
    assert not np.array_equal(pixels(tiny.media.data), pixels(full.media.data))
    assert read_parameters(tiny.media.data).extra["VAE"] == TINY
    assert "VAE" not in read_parameters(full.media.data).extra


def test_previews_are_a_grids_pictures_and_finals_keep_the_full_vae(
    with_decoder: LoadedImagePipeline,
) -> None:
    grid = made(with_decoder, "previews", count=2)
    single = made(with_decoder, "previews")
    assert grid.params["decoder"] == TINY
    assert [part.params["decoder"] for part in grid.parts] == [TINY, TINY]
    assert single.params["decoder"] == FULL_VAE
    assert uses_tiny("previews", 2) and not uses_tiny("previews", 1)
    assert uses_tiny("always", 1) and not uses_tiny("never", 4)


def test_the_same_seed_through_the_tiny_decoder_gives_the_same_png(
    with_decoder: LoadedImagePipeline,
) -> None:
    assert made(with_decoder, "always").media.data == made(with_decoder, "always").media.data


def test_without_a_decoder_every_picture_is_the_full_vaes(models_cache_dir: Path) -> None:
    plain = load_image_pipeline("tiny:image", cache_dir=models_cache_dir, device="cpu")
    assert plain.decoder is None
    assert made(plain, "always", count=2).params["decoder"] == FULL_VAE


def test_a_decoder_for_other_latents_is_refused_in_one_line(
    models_cache_dir: Path, tmp_path: Path
) -> None:
    # TAESD's real architecture upsamples 8x; tiny:image's latents are 2x.
    tiny_decoder_module().save_pretrained(tmp_path / "fits")
    from diffusers import AutoencoderTiny

    AutoencoderTiny(
        encoder_block_out_channels=(8, 8, 8),
        decoder_block_out_channels=(8, 8, 8),
        num_encoder_blocks=(1, 1, 1),
        num_decoder_blocks=(1, 1, 1),
    ).save_pretrained(tmp_path / "taesd-like")
    with pytest.raises(ModelUnavailable) as refused:
        load_image_pipeline(
            "tiny:image",
            cache_dir=models_cache_dir,
            device="cpu",
            settings={"decoder": str(tmp_path / "taesd-like")},
        )
    message = str(refused.value)
    assert "4x" in message and "2x" in message and "ATELIER_MODEL_IMAGE_DECODER" in message
    assert "\n" not in message
    fits = load_image_pipeline(
        "tiny:image",
        cache_dir=models_cache_dir,
        device="cpu",
        settings={"decoder": str(tmp_path / "fits")},
    )
    assert fits.decoder is not None and fits.decoder.spec == str(tmp_path / "fits")


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("tiny:nothing", "no such built-in decoder"),
        ("madebyollin/no-such-taesd", "offline and not in the local cache"),
        ("not a spec at all", "not a decoder spec"),
    ],
)
def test_bad_decoder_specs_are_explained(models_cache_dir: Path, spec: str, expected: str) -> None:
    with pytest.raises(ModelUnavailable) as refused:
        load_image_pipeline(
            "tiny:image", cache_dir=models_cache_dir, device="cpu", settings={"decoder": spec}
        )
    assert expected in str(refused.value) and "ATELIER_MODEL_IMAGE_DECODER" in str(refused.value)


def test_the_setting_reaches_the_loader_through_the_registry(
    models_cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from agent.config import load_settings
    from agent.factory import build_model_registry

    monkeypatch.setenv("ATELIER_MODEL_IMAGE_DECODER", TINY)
    monkeypatch.setenv("ATELIER_IMAGE_DECODER_USE", "always")
    settings = load_settings(profile="tiny", device="cpu", models_dir=models_cache_dir)
    loaded = build_model_registry(settings).get("image")
    assert loaded.decoder is not None and loaded.decoder.spec == TINY
    context = ToolContext(ImageOnly(loaded), settings.tool_settings["image"])
    piece = make_image(ImageArgs(prompt="a lighthouse in fog", seed=7), context)
    assert piece.params["decoder"] == TINY


def test_loading_a_decoder_prints_no_notice_an_operator_cannot_act_on(
    models_cache_dir: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    tiny_decoder_module().save_pretrained(tmp_path / "taesd")
    capfd.readouterr()
    load_image_pipeline(
        "tiny:image",
        cache_dir=models_cache_dir,
        device="cpu",
        settings={"decoder": str(tmp_path / "taesd")},
    )
    assert "config attributes" not in capfd.readouterr().err
