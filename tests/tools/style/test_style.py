"""A style trained on a person's own pictures (issue 19, Deliver 2): a LoRA on the tiny image
model's UNet, trained in place and taken off again. Its loss falls over its steps, the style
changes a picture of the same seed while the plain picture stays what it was, its weights
read back from the stored file are the ones trained, and fewer than 4 pictures, the time cap
and a cancel each stop it with nothing made."""

from __future__ import annotations

import io
import threading
from dataclasses import dataclass
from pathlib import Path

import peft
import pytest
from diffusers.models.attention_processor import FusedAttnProcessor2_0
from PIL import Image

from agent.making.tool_args import validate_args
from tests.support.threads import one_thread  # noqa: F401 - autouse
from tools.contract import (
    ArtifactDraft,
    ArtifactKind,
    Cancelled,
    FocusArtifact,
    ToolContext,
    ToolRefused,
)
from tools.image.fast import optimise_modules
from tools.image.pipeline import load_image_pipeline
from tools.image.tool import ImageArgs, make_image
from tools.models.registry import ModelRegistry
from tools.style.intents import read_style_request
from tools.style.tool import STYLE_TOOL, StyleArgs, train
from tools.style.train import TrainingPlan, train_style
from tools.style.weights import LORA_FILE, LORA_MIME, StyleWeights, read_weights, weights_media

STEPS = 30
# A rate the tiny random UNet learns at in a few dozen steps (DreamBooth's 1e-4 barely moves it).
TRAINING = {"style_steps": STEPS, "style_seed": 1, "style_learning_rate": 1e-2}


def stripes(shade: int) -> bytes:
    image = Image.new("RGB", (48, 40), (40 * shade, 200 - 30 * shade, 90))
    for x in range(0, 48, 6):
        image.paste((250, 250, 20 * shade), (x, 0, x + 2, 40))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def pictures(folder: Path, count: int) -> tuple[FocusArtifact, ...]:
    folder.mkdir(parents=True, exist_ok=True)
    made = []
    for number in range(1, count + 1):
        path = folder / f"picture-{number}.png"
        path.write_bytes(stripes(number))
        made.append(
            FocusArtifact(number, ArtifactKind.IMAGE, "", None, path, "image/png", {"upload": 1})
        )
    return tuple(made)


def render(models: ModelRegistry) -> bytes:
    draft = make_image(ImageArgs(prompt="a lighthouse", seed=3), ToolContext(models))
    assert draft.media is not None
    return Image.open(io.BytesIO(draft.media.data)).convert("RGB").tobytes()


def render_with(models: ModelRegistry, weights: StyleWeights) -> bytes:
    """A picture with the weights added to the UNet as the image side applies them."""
    unet = models.get("image").text2img.unet
    unet.add_adapter(weights.config(), adapter_name="ink")
    try:
        peft.set_peft_model_state_dict(unet, weights.tensors, adapter_name="ink")
        return render(models)
    finally:
        unet.delete_adapters("ink")
        unet.unload_lora()


@dataclass(frozen=True)
class Run:
    plain_before: bytes
    draft: ArtifactDraft
    plain_after: bytes


@pytest.fixture(scope="module")
def run(tiny_models: ModelRegistry, tmp_path_factory: pytest.TempPathFactory) -> Run:
    plain_before = render(tiny_models)
    sources = pictures(tmp_path_factory.mktemp("pictures"), 4)
    labels: list[str] = []
    context = ToolContext(
        tiny_models, TRAINING, progress=lambda _f, label: labels.append(label), sources=sources
    )
    draft = train(StyleArgs(name="ink"), context)
    assert labels[-1] == f"step {STEPS} of {STEPS}, about 0 s left"
    assert f"step 1 of {STEPS}, about " in labels[1]
    return Run(plain_before, draft, render(tiny_models))


def test_training_lowers_the_loss_over_its_steps(run: Run) -> None:
    params = run.draft.params
    assert params["steps"] == STEPS and params["seed"] == 1
    # Each the mean of 5 steps: a real fall, not one lucky step.
    assert params["loss_last"] < params["loss_first"] - 0.03, params
    assert run.draft.kind is ArtifactKind.STYLE
    assert run.draft.text == "style ink: learned from #1, #2, #3, #4"
    assert params["sources"] == [1, 2, 3, 4] and params["model"] == "tiny:image"
    assert params["instance_prompt"] == "a picture in the style ink"
    assert run.draft.note is not None and run.draft.note.startswith("30 steps on 4 pictures")


def test_the_style_changes_the_picture_and_the_plain_one_stays_as_it_was(
    run: Run, tiny_models: ModelRegistry, tmp_path: Path
) -> None:
    assert run.plain_after == run.plain_before  # the shared UNet was given back unchanged
    stored = tmp_path / "lora.safetensors"
    stored.write_bytes(run.draft.files[LORA_FILE].data)
    weights = read_weights(stored)  # as after a restart: from the stored file only
    styled = render_with(tiny_models, weights)
    assert styled != run.plain_before
    assert render_with(tiny_models, weights) == styled
    assert render(tiny_models) == run.plain_before


def test_the_stored_weights_are_the_trained_ones(run: Run, tmp_path: Path) -> None:
    media = run.draft.files[LORA_FILE]
    assert media.mime_type == LORA_MIME
    stored = tmp_path / "lora"
    stored.write_bytes(media.data)
    weights = read_weights(stored)
    assert (weights.rank, weights.alpha) == (run.draft.params["rank"], run.draft.params["alpha"])
    assert weights.targets == ("to_q", "to_k", "to_v", "to_out.0")
    again = tmp_path / "again"
    again.write_bytes(weights_media(weights).data)
    assert {k: v.tolist() for k, v in read_weights(again).tensors.items()} == {
        k: v.tolist() for k, v in weights.tensors.items()
    }
    # Trained: the LoRA's up-projections start at zero and have moved.
    ups = [v for k, v in weights.tensors.items() if "lora_B" in k]
    assert ups and all(v.abs().sum() > 0 for v in ups)


def test_a_file_that_is_not_a_style_is_refused_in_one_line(tmp_path: Path) -> None:
    with pytest.raises(ToolRefused) as missing:
        read_weights(tmp_path / "gone")
    assert str(missing.value) == "The style's weights are missing (gone); train the style again."
    picture = tmp_path / "lora"
    picture.write_bytes(stripes(1))
    with pytest.raises(ToolRefused) as wrong:
        read_weights(picture)
    assert str(wrong.value).startswith("The style's file lora is not LoRA weights")
    assert "\n" not in str(wrong.value)


def test_fewer_than_four_pictures_is_one_line_and_nothing_made(
    tiny_models: ModelRegistry, tmp_path: Path
) -> None:
    three = pictures(tmp_path, 3)
    poem = FocusArtifact(9, ArtifactKind.POEM, "", "a poem", None, None, {})
    context = ToolContext(tiny_models, TRAINING, sources=(*three, poem))
    with pytest.raises(ToolRefused) as refused:
        train(StyleArgs(name="ink"), context)
    assert str(refused.value) == (
        "A style needs at least 4 of your pictures; it got 3. Nothing was stored."
    )


def test_past_the_time_cap_it_stops_in_one_line(
    tiny_models: ModelRegistry, tmp_path: Path, run: Run
) -> None:
    settings = {**TRAINING, "style_steps": 5, "style_max_seconds": 0.001}
    context = ToolContext(tiny_models, settings, sources=pictures(tmp_path, 4))
    with pytest.raises(ToolRefused) as refused:
        train(StyleArgs(name="ink"), context)
    assert str(refused.value) == (
        "Training stopped at the time cap of 0.001 s after 1 of 5 steps; nothing was stored. "
        "The operator can raise ATELIER_STYLE_MAX_SECONDS."
    )
    assert render(tiny_models) == run.plain_before


def test_a_cancel_stops_the_training(tiny_models: ModelRegistry, tmp_path: Path, run: Run) -> None:
    cancelled = threading.Event()
    seen: list[str] = []

    def progress(_fraction: float, label: str) -> None:
        seen.append(label)
        if label.startswith("step 2 of"):
            cancelled.set()  # as the person's Cancel does, mid-run

    context = ToolContext(
        tiny_models,
        {**TRAINING, "style_steps": 10},
        progress=progress,
        cancelled=cancelled,
        sources=pictures(tmp_path, 4),
    )
    with pytest.raises(Cancelled):
        train(StyleArgs(name="ink"), context)
    assert seen[-1].startswith("step 2 of 10")
    assert render(tiny_models) == run.plain_before


def test_the_name_is_the_text_and_its_pieces_are_the_pictures() -> None:
    args = validate_args(STYLE_TOOL, {}, "watercolor #3 #7")
    assert isinstance(args, StyleArgs)
    assert (args.name, args.from_pieces) == ("watercolor", (3, 7))
    # A tool call that puts the pieces in the name gets the same.
    called = StyleArgs.model_validate({"name": " ink #4, #5 ", "from_pieces": (4,)})
    assert (called.name, called.from_pieces) == ("ink", (4, 5))
    assert read_style_request("learn my watercolor style from #3 #7 #9 #12") == {
        "name": "watercolor",
        "from_pieces": (3, 7, 9, 12),
    }
    assert read_style_request("用我收藏的图学我的风格") == {"name": ""}
    assert read_style_request("把#3 #4 #5 #6训练成叫水墨的风格")["name"] == "水墨"


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("learn my style from my kept pictures", "What should the style be called?"),
        ("a\nb", "one line"),
        ("x" * 41, "at most 40 characters"),
    ],
)
def test_a_name_that_cannot_be_used_is_asked_about(text: str, answer: str) -> None:
    with pytest.raises(Exception) as bad:
        validate_args(STYLE_TOOL, {"name": text} if "\n" in text else {}, text)
    assert answer in str(bad.value)


def test_on_the_fast_path_the_lora_trains_and_the_fused_attention_comes_back(
    models_cache_dir: Path,
) -> None:
    """Fused q/k/v projections (tools/image/fast.py) would bypass a LoRA on to_q/to_k/to_v:
    training sets them aside, so every LoRA layer learns, and puts them back after."""
    loaded = load_image_pipeline("tiny:image", cache_dir=models_cache_dir, device="cpu")
    optimise_modules(loaded.text2img, None)
    unet = loaded.text2img.unet
    fused_before = sum(isinstance(p, FusedAttnProcessor2_0) for p in unet.attn_processors.values())
    plan = TrainingPlan(steps=2, max_seconds=60.0, seed=0, learning_rate=1e-2)
    trained = train_style(
        loaded, [stripes_image(n) for n in range(4)], plan, on_step=lambda *_: None, check=no_op
    )
    ups = {k: v for k, v in trained.weights.tensors.items() if "lora_B" in k}
    assert any(".to_q." in k for k in ups) and all(v.abs().sum() > 0 for v in ups.values())
    fused_after = sum(isinstance(p, FusedAttnProcessor2_0) for p in unet.attn_processors.values())
    assert fused_before > 0 and fused_after == fused_before


def stripes_image(shade: int) -> Image.Image:
    return Image.open(io.BytesIO(stripes(shade)))


def no_op() -> None:
    return None


def test_the_image_tool_wears_the_trained_style_by_name(
    run: Run, tiny_models: ModelRegistry, tmp_path: Path
) -> None:
    """The trained piece as the agent hands it to the image tool (tools/image/
    personal_style.py): the same seed makes another picture, and the plain one after it is
    the plain one before."""
    stored = tmp_path / "lora"
    stored.write_bytes(run.draft.files[LORA_FILE].data)
    piece = FocusArtifact(
        7, ArtifactKind.STYLE, "", run.draft.text, None, None, run.draft.params, {LORA_FILE: stored}
    )
    args = ImageArgs(prompt="a lighthouse", seed=3, style_name="ink")
    draft = make_image(args, ToolContext(tiny_models, personal_style=piece))
    assert draft.media is not None
    styled = Image.open(io.BytesIO(draft.media.data)).convert("RGB").tobytes()
    assert styled != run.plain_before
    assert render(tiny_models) == run.plain_before
