"""The image model and what surrounds it: loading specs (a tiny pipeline from disk, directories,
hub ids offline), one set of weights for both pipelines, memory savings by budget, uploads, the
rules for a chat model's prompt rewrite, and diffusers' safety checker when it is on."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import torch
from PIL import Image

from tools.contract import ToolContext, UploadRejected
from tools.image.draft import prompt_diff
from tools.image.intents import instruction_of
from tools.image.loaded import LoadedImagePipeline
from tools.image.memory import MemoryOptions, plan_memory
from tools.image.pipeline import load_image_pipeline, unique_modules
from tools.image.rewrite import rewrite_problem
from tools.image.safety import ImageRefused, OutputFlagged
from tools.image.sizes import fit_size, size_for
from tools.image.tool import ImageArgs, make_image
from tools.image.uploads import read_upload
from tools.models.specs import ModelUnavailable


@pytest.fixture(scope="module")
def tiny_image(models_cache_dir: Path) -> LoadedImagePipeline:
    return load_image_pipeline("tiny:image", cache_dir=models_cache_dir, device="cpu")


class ImageOnly:
    def __init__(self, loaded: LoadedImagePipeline) -> None:
        self.loaded = loaded

    def get(self, role: str) -> LoadedImagePipeline:
        assert role == "image"
        return self.loaded


def test_the_tiny_pipeline_is_loaded_from_disk_with_one_set_of_weights(
    tiny_image: LoadedImagePipeline, models_cache_dir: Path
) -> None:
    assert (models_cache_dir / "tiny-image" / "model_index.json").is_file()
    assert type(tiny_image.text2img).__name__ == "StableDiffusionPipeline"
    assert type(tiny_image.img2img).__name__ == "StableDiffusionImg2ImgPipeline"
    assert unique_modules([tiny_image.text2img]) == unique_modules([tiny_image.img2img])
    assert tiny_image.dtype == torch.float32 and tiny_image.device.type == "cpu"
    single = sum(p.numel() * 4 for p in tiny_image.text2img.unet.parameters())
    assert single < tiny_image.memory_bytes() < 3 * 1024 * 1024 * 4  # counted once, small
    assert tiny_image.defaults.native == 32 and tiny_image.sampler == "Euler"


def test_a_hub_id_offline_says_so_and_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailable) as missing:
        load_image_pipeline("someone/no-such-diffusion-model", cache_dir=tmp_path, device="cpu")
    message = str(missing.value)
    assert "offline and not in the local cache" in message and "ATELIER_MODEL_IMAGE" in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("spec", "expected"),
    [("tiny:nothing", "no such built-in image model"), ("not a spec!", "not an image model spec")],
)
def test_bad_specs_are_explained(tmp_path: Path, spec: str, expected: str) -> None:
    with pytest.raises(ModelUnavailable, match=expected):
        load_image_pipeline(spec, cache_dir=tmp_path, device="cpu")


def test_a_directory_that_is_not_a_pipeline_is_explained(tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailable, match="no model_index.json"):
        load_image_pipeline(str(tmp_path), cache_dir=tmp_path, device="cpu")


def test_a_saved_pipeline_directory_loads(tiny_image: LoadedImagePipeline, tmp_path: Path) -> None:
    tiny_image.text2img.save_pretrained(tmp_path / "mine")
    loaded = load_image_pipeline(str(tmp_path / "mine"), cache_dir=tmp_path, device="cpu")
    assert loaded.defaults.steps == 25 and loaded.defaults.guidance == 7.5  # not a Turbo model


def test_memory_savings_follow_the_room_left() -> None:
    auto = MemoryOptions()
    roomy = plan_memory(auto, width=512, height=512, batch=4, value_bytes=2, room=None)
    assert not (roomy.vae_tiling or roomy.vae_slicing or roomy.attention_slicing)
    one = 512 * 512 * 640 * 2
    tight = plan_memory(auto, width=512, height=512, batch=4, value_bytes=2, room=2 * one)
    assert tight.vae_slicing and not tight.vae_tiling
    tiny = plan_memory(auto, width=512, height=512, batch=1, value_bytes=2, room=one // 2)
    assert tiny.vae_tiling
    forced = MemoryOptions.from_settings({"attention_slicing": "on", "vae_tiling": True})
    assert plan_memory(forced, width=8, height=8, batch=1, value_bytes=4, room=None) == type(tiny)(
        attention_slicing=True, vae_slicing=False, vae_tiling=True
    )


def test_a_small_headroom_tiles_the_shared_vae(tiny_image: LoadedImagePipeline) -> None:
    with tiny_image.lock:
        tiny_image.prepare(MemoryOptions(headroom_bytes=1024), width=32, height=32, batch=2)
        assert tiny_image.text2img.vae.use_tiling and tiny_image.img2img.vae.use_tiling
        assert tiny_image.text2img.vae.use_slicing
        tiny_image.prepare(MemoryOptions(), width=32, height=32, batch=1)
        assert not tiny_image.text2img.vae.use_tiling


def test_sizes_follow_the_native_resolution() -> None:
    assert size_for("1:1", 512) == (512, 512)
    assert size_for("3:2", 1024) == (1280, 832)
    assert size_for("16:9", 1024) == (1344, 768)
    assert size_for("9:16", 512) == (384, 704)
    assert fit_size(4000, 3000, native=512) == (592, 440)


def png(image: Image.Image, format: str = "PNG", **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=format, **options)
    return buffer.getvalue()


def test_uploads_are_kept_as_upright_flat_pngs() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to view"
    photo = png(Image.new("RGB", (40, 20), "red"), "JPEG", exif=exif)
    upright = Image.open(io.BytesIO(read_upload(photo).data))
    assert upright.format == "PNG" and upright.size == (20, 40)
    clear = read_upload(png(Image.new("RGBA", (4, 4), (0, 0, 0, 0))))
    assert Image.open(io.BytesIO(clear.data)).getpixel((0, 0)) == (255, 255, 255)
    frames = [Image.new("P", (6, 6), i) for i in range(3)]
    gif = io.BytesIO()
    frames[0].save(gif, format="GIF", save_all=True, append_images=frames[1:])
    assert Image.open(io.BytesIO(read_upload(gif.getvalue()).data)).size == (6, 6)
    with pytest.raises(UploadRejected, match="not an image I can read"):
        read_upload(png(Image.new("RGB", (8, 8)))[:40])  # cut off


def test_a_rewrite_must_keep_the_subject_and_stay_short() -> None:
    old = "a lighthouse in fog, oil painting"
    assert rewrite_problem(old, "a lighthouse in fog at sunset, oil painting") is None
    assert rewrite_problem(old, 'New prompt: "A lighthouse in fog at dusk, oil painting"') is None
    assert rewrite_problem(old, "") == "was empty"
    assert rewrite_problem(old, "ertz qq lorem vb nn") == "lost the subject"
    assert rewrite_problem(old, "a lighthouse in fog, oil painting " * 20) == "ran on too long"
    assert rewrite_problem(old, old) == "changed nothing"


def test_instructions_and_diffs_read_as_a_person_would_write_them() -> None:
    assert instruction_of("a variation of #3 at sunset") == "at sunset"
    assert instruction_of("please vary #12") == ""
    assert prompt_diff("a cat", "a cat, at sunset") == "prompt: +at sunset"
    assert prompt_diff("a black cat", "a white cat") == "prompt: -black +white"


def test_the_safety_checker_when_on_keeps_flagged_pictures_out(
    tiny_image: LoadedImagePipeline, tmp_path: Path
) -> None:
    from diffusers.pipelines.stable_diffusion.safety_checker import StableDiffusionSafetyChecker
    from transformers import CLIPConfig, CLIPImageProcessor

    config = CLIPConfig(
        text_config={
            "hidden_size": 16,
            "intermediate_size": 32,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
        },
        vision_config={
            "hidden_size": 16,
            "intermediate_size": 32,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "image_size": 32,
            "patch_size": 8,
        },
        projection_dim=8,
    )
    checker = StableDiffusionSafetyChecker(config)
    with torch.no_grad():  # every concept's threshold below any similarity: all flagged
        checker.concept_embeds_weights.fill_(-2.0)
    checker.save_pretrained(tmp_path / "checker")
    CLIPImageProcessor(size={"shortest_edge": 32}, crop_size=32).save_pretrained(
        tmp_path / "checker"
    )
    settings = {"safety_checker": True, "safety_checker_model": str(tmp_path / "checker")}
    context = ToolContext(ImageOnly(tiny_image), settings)
    with pytest.raises(OutputFlagged, match="flagged the result"):
        make_image(ImageArgs(prompt="a harbour", seed=1), context)
    missing = {"safety_checker": True, "safety_checker_model": "nobody/no-checker"}
    with pytest.raises(ImageRefused, match="turn safety_checker off"):
        make_image(
            ImageArgs(prompt="a harbour", seed=1), ToolContext(ImageOnly(tiny_image), missing)
        )
