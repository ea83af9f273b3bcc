"""A picture in the person's own trained style (issue 19, Deliver 2): a LoRA made here the way
the STYLE tool trains one (peft's adapter on the tiny UNet, its non-zero lora_B, the state in
tools/style/weights.py's file) is worn by the UNet for one render. The style changes the
picture, the same seed in it makes the same picture, and the picture without it is the one it
was before, after a finished, a refused or a cancelled run; renders with different styles never
share a pipeline call; what was worn is recorded; a style that is not there, or does not fit,
is one line."""

from __future__ import annotations

import io
import threading
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import peft
import pytest
import torch
from diffusers import UNet2DConditionModel
from diffusers.models.attention_processor import FusedAttnProcessor2_0
from PIL import Image

from tools.contract import (
    ArtifactDraft,
    ArtifactKind,
    Cancelled,
    FocusArtifact,
    ToolContext,
    ToolRefused,
)
from tools.image.batching import render_work
from tools.image.ip_adapter import TINY_IP_ADAPTER
from tools.image.memory import MemoryOptions
from tools.image.personal_style import PersonalStyle, style_to_apply, wearing
from tools.image.png_params import read_parameters
from tools.image.recipes import new_recipe
from tools.image.rendering import Render, render, render_many
from tools.image.tool import ImageArgs, make_image, wearing_style
from tools.models.registry import ModelRegistry
from tools.style.weights import LORA_FILE, StyleWeights, weights_media

TARGETS = ("to_q", "to_k", "to_v", "to_out.0")
TRAINING = "trained"  # the adapter's name while it is made, as the STYLE tool names its own


def lora_of(tiny_models: ModelRegistry, seed: int) -> StyleWeights:
    """A LoRA for the tiny image model's UNet, as training leaves one: peft's adapter on a UNet
    of the same architecture, lora_B moved off zero so it changes what the UNet computes."""
    config = tiny_models.get("image").text2img.unet.config
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        unet = UNet2DConditionModel.from_config(config)
        lora = peft.LoraConfig(r=4, lora_alpha=4, target_modules=list(TARGETS))
        unet.add_adapter(lora, adapter_name=TRAINING)
        for name, parameter in unet.named_parameters():
            if "lora_B" in name:
                torch.nn.init.normal_(parameter, std=0.5)
        tensors = peft.get_peft_model_state_dict(unet, adapter_name=TRAINING)
    return StyleWeights(rank=4, alpha=4, targets=TARGETS, tensors=dict(tensors))


def style_piece(
    weights: StyleWeights, tmp_path: Path, number: int, name: str, **params: object
) -> FocusArtifact:
    """The STYLE piece as the agent hands it over: its weights file under "lora"."""
    path = tmp_path / f"style-{number}.safetensors"
    path.write_bytes(weights_media(weights).data)
    recorded = {"name": name, "model": "tiny:image", **params}
    return FocusArtifact(
        number, ArtifactKind.STYLE, "", f"style {name}", None, None, recorded, {LORA_FILE: path}
    )


@pytest.fixture(scope="module")
def ink_weights(tiny_models: ModelRegistry) -> StyleWeights:
    return lora_of(tiny_models, seed=1)


@pytest.fixture
def ink(ink_weights: StyleWeights, tmp_path: Path) -> FocusArtifact:
    return style_piece(ink_weights, tmp_path, 7, "ink")


def lighthouse(
    models: ModelRegistry, style: FocusArtifact | None = None, **fields: object
) -> ArtifactDraft:
    name = None if style is None else str(style.params["name"])
    args = ImageArgs(prompt="a lighthouse", seed=3, style_name=name, **fields)  # type: ignore[arg-type]
    return make_image(args, ToolContext(models, personal_style=style))


def pixels(draft: ArtifactDraft) -> bytes:
    assert draft.media is not None
    return Image.open(io.BytesIO(draft.media.data)).convert("RGB").tobytes()


@pytest.fixture(scope="module")
def plain(tiny_models: ModelRegistry) -> bytes:
    """The picture without a style, made before any style was worn."""
    return pixels(lighthouse(tiny_models))


def test_the_style_changes_the_picture_is_recorded_and_comes_off_after(
    tiny_models: ModelRegistry, ink: FocusArtifact, plain: bytes
) -> None:
    styled = lighthouse(tiny_models, ink)
    after = lighthouse(tiny_models)
    assert pixels(styled) != plain
    assert pixels(after) == plain  # the adapter was taken off
    unet = tiny_models.get("image").text2img.unet
    assert not any("lora" in name for name, _ in unet.named_modules())
    assert (styled.params["style_name"], styled.params["style_piece"]) == ("ink", 7)
    assert styled.params["prompt"] == "a lighthouse"  # the LoRA alone changed it
    # A style is not the focus: the picture is a new piece, not one made from the style.
    assert styled.from_focus is False
    assert styled.media is not None
    found = read_parameters(styled.media.data)
    assert found is not None and found.extra["Style"] == "ink (#7)"
    assert styled.note is not None and styled.note.startswith("in your style 'ink' (#7)")


def test_two_styles_never_share_a_pipeline_call(
    tiny_models: ModelRegistry, ink: FocusArtifact, tmp_path: Path
) -> None:
    loaded = tiny_models.get("image")
    wash = style_to_apply(style_piece(lora_of(tiny_models, 2), tmp_path, 8, "wash"), "wash")
    worn = style_to_apply(ink, "ink")
    plain = Render("a fox", "", 32, 32, 2, 5.0, (1,))
    in_ink, in_wash = replace(plain, style=worn), replace(plain, style=wash)

    def shape(job: Render) -> object:
        return render_work(loaded, job, MemoryOptions(), lambda _d, _t: None).shape

    assert shape(in_ink) == shape(replace(plain, style=style_to_apply(ink, "ink")))
    assert len({shape(plain), shape(in_ink), shape(in_wash)}) == 3
    # Handed to one call anyway, each picture is the one it makes alone, in its own style.
    with loaded.lock:
        together = render_many(loaded, [in_ink, plain], lambda _d, _t: None)
        alone = [render(loaded, job, lambda _d, _t: None) for job in (in_ink, plain)]
    as_bytes = [[picture.tobytes() for picture in pictures] for pictures in together]
    assert as_bytes == [[picture.tobytes() for picture in pictures] for pictures in alone]
    assert as_bytes[0] != as_bytes[1]


def test_a_style_name_without_the_style_is_one_line(tiny_models: ModelRegistry) -> None:
    args = ImageArgs(prompt="a fox", style_name="ink")
    with pytest.raises(ToolRefused, match="You have no style named 'ink'") as refused:
        make_image(args, ToolContext(tiny_models))
    assert "\n" not in str(refused.value)


def test_a_style_of_another_model_is_refused_and_leaves_the_unet_plain(
    tiny_models: ModelRegistry, ink_weights: StyleWeights, tmp_path: Path, plain: bytes
) -> None:
    elsewhere = style_piece(ink_weights, tmp_path, 9, "ink", model="stabilityai/sd-turbo")
    with pytest.raises(ToolRefused, match="trained on the image model stabilityai/sd-turbo"):
        lighthouse(tiny_models, elsewhere)
    # Weights whose shapes are another model's, with no model recorded: refused while
    # being put on, and taken off again.
    tensors = {
        key: torch.ones(v.shape[0] + 1, v.shape[1]) for key, v in ink_weights.tensors.items()
    }
    misfit = StyleWeights(4, 4, TARGETS, tensors)
    wrong = style_piece(misfit, tmp_path, 10, "misfit", model=None)
    with pytest.raises(ToolRefused, match="does not fit the image model tiny:image"):
        lighthouse(tiny_models, wrong)
    assert pixels(lighthouse(tiny_models)) == plain


def test_a_cancelled_run_takes_the_style_off(
    tiny_models: ModelRegistry, ink: FocusArtifact, plain: bytes
) -> None:
    cancelled = threading.Event()

    def progress(_fraction: float, label: str) -> None:
        if label.startswith("step"):
            cancelled.set()  # called off after the first denoising step

    args = ImageArgs(prompt="a lighthouse", seed=3, style_name="ink")
    context = ToolContext(tiny_models, progress=progress, cancelled=cancelled, personal_style=ink)
    with pytest.raises(Cancelled):
        make_image(args, context)
    assert pixels(lighthouse(tiny_models)) == plain


def test_a_style_goes_with_a_style_picture(
    tiny_models: ModelRegistry, ink: FocusArtifact, tmp_path: Path
) -> None:
    reference = tmp_path / "stripes.png"
    stripes = Image.new("RGB", (32, 32), "white")
    for x in range(0, 32, 4):
        stripes.paste((200, 30, 30), (x, 0, x + 2, 32))
    stripes.save(reference)
    focus = FocusArtifact(12, ArtifactKind.IMAGE, "", None, reference, "image/png", {"upload": 1})

    def styled(style: FocusArtifact | None) -> ArtifactDraft:
        name = None if style is None else "ink"
        args = ImageArgs(prompt="a lighthouse", seed=3, mode="styled", style_name=name)
        settings = {"ip_adapter": TINY_IP_ADAPTER}
        return make_image(
            args, ToolContext(tiny_models, settings, focus=focus, personal_style=style)
        )

    by_picture, by_both = styled(None), styled(ink)
    assert pixels(by_both) != pixels(by_picture)
    assert by_both.params["style_image"]["number"] == 12 and by_both.params["style_piece"] == 7


def test_the_weights_are_read_once_per_file(ink: FocusArtifact) -> None:
    first, second = style_to_apply(ink, "ink"), style_to_apply(ink, "INK")
    assert isinstance(first, PersonalStyle) and first.key == second.key
    assert first.weights is second.weights  # from the cache, not the file again
    assert second.name == "ink"  # as the style recorded it


def test_a_prompt_wearing_a_style_ends_with_the_words_it_was_trained_on(
    tiny_models: ModelRegistry, ink_weights: StyleWeights, tmp_path: Path
) -> None:
    loaded = tiny_models.get("image")
    trained = style_piece(
        ink_weights, tmp_path, 11, "ink", instance_prompt="a picture in the style ink"
    )
    worn = style_to_apply(trained, "ink")
    recipe = wearing_style(new_recipe(ImageArgs(prompt="a fox", seed=1), loaded), worn, loaded)
    assert recipe.render.prompt == "a fox, a picture in the style ink"
    assert recipe.render.style_key == worn.key


def test_on_the_fast_path_the_style_is_worn_eagerly_through_unfused_attention(
    tiny_models: ModelRegistry, ink: FocusArtifact
) -> None:
    """CUDA's fast path fuses q/k/v and compiles the UNet (tools/image/fast.py); the fusing
    runs on a CPU too, so a UNet of its own shows the style reaching a fused UNet, eagerly."""
    config = tiny_models.get("image").text2img.unet.config
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        unet = UNet2DConditionModel.from_config(config).eval()
        size = int(config.sample_size)
        sample = torch.randn(1, int(config.in_channels), size, size)
        words = torch.randn(1, 3, int(config.cross_attention_dim))
    loaded = SimpleNamespace(text2img=SimpleNamespace(unet=unet), spec="tiny:image")
    worn = style_to_apply(ink, "ink")

    def noise() -> torch.Tensor:
        with torch.inference_mode():
            return unet(sample, 1, encoder_hidden_states=words).sample

    plain = noise()
    with wearing(loaded, worn):  # type: ignore[arg-type]
        unfused = noise()
    unet.fuse_qkv_projections()

    def compiled(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the compiled UNet ran with the style on")

    unet._compiled_call_impl = compiled
    with wearing(loaded, worn):  # type: ignore[arg-type]
        fused = noise()
    assert unet._compiled_call_impl is compiled  # the compiled forward is back
    unet._compiled_call_impl = None
    assert torch.allclose(fused, unfused, atol=1e-5) and not torch.allclose(fused, plain)
    assert all(isinstance(p, FusedAttnProcessor2_0) for p in unet.attn_processors.values())
    assert torch.allclose(noise(), plain, atol=1e-5)
