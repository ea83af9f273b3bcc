"""The image tool through the agent, on the tiny random pipeline loaded from disk: what a person
asks for is kept as a PNG that carries its parameters; variations and refinements are child
versions whose reply says what changed; a seed makes the same bytes again; bad uploads, blocked
prompts and cancelled runs leave nothing behind."""

from __future__ import annotations

import asyncio
import hashlib
import io
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from agent.types import Attachment, Turn, UserRef
from bot.console import parse_command
from tests.support.studio_tools import VERSE
from tests.support.workshop import PLACE, MakeWorkshop, Workshop
from tools.contract import ArtifactKind, Cancelled, FocusArtifact, ToolContext, ToolRefused
from tools.image.intents import read_image_request
from tools.image.png_params import read_parameters
from tools.image.safety import ImageRefused, PromptBlocked, SafetyPolicy
from tools.image.sizes import grid_cell, size_for
from tools.image.tool import IMAGE_TOOL, ImageArgs, make_image
from tools.models.registry import ModelRegistry


@pytest.fixture
def studio(make_studio: MakeWorkshop, tiny_models: ModelRegistry) -> Workshop:
    return make_studio([IMAGE_TOOL], models=tiny_models)


def png_of(studio: Workshop, artifact: Any) -> bytes:
    return studio.media.read(artifact.media_path, artifact.media_sha256)


def picture(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


async def test_a_description_becomes_a_png_that_carries_its_parameters(studio: Workshop) -> None:
    reply = await studio.command("/image seed=7 negative_prompt=blurry a lighthouse in fog")
    [artifact] = await studio.artifacts()
    assert (artifact.kind, artifact.mime_type, artifact.parent_id) == ("image", "image/png", None)
    data = png_of(studio, artifact)
    assert picture(data).size == (32, 32)
    found = read_parameters(data)
    assert found is not None
    assert (found.prompt, found.negative_prompt, found.seed) == (
        "a lighthouse in fog",
        "blurry",
        7,
    )
    assert (found.width, found.height, found.model, found.sampler) == (
        32,
        32,
        "tiny:image",
        "Euler",
    )
    assert artifact.params["seed"] == 7 and artifact.params["steps"] == 4
    assert reply.text == "seed 7 · 4 steps · 32x32 · tiny:image"
    assert reply.artifacts[0].media_path is not None


async def test_the_same_seed_makes_the_same_bytes(studio: Workshop) -> None:
    await studio.command("/image seed=11 a red kite over the dunes")
    await studio.command("/image seed=11 a red kite over the dunes")
    await studio.command("/image seed=12 a red kite over the dunes")
    first, again, other = await studio.artifacts()
    assert first.media_sha256 == again.media_sha256
    assert other.media_sha256 != first.media_sha256


async def test_without_a_seed_one_is_drawn_and_recorded(studio: Workshop) -> None:
    reply = await studio.command("/image a red kite")
    [artifact] = await studio.artifacts()
    seed = artifact.params["seed"]
    assert isinstance(seed, int) and f"seed {seed}" in reply.text
    assert read_parameters(png_of(studio, artifact)).seed == seed  # type: ignore[union-attr]


async def test_a_variation_keeps_the_prompt_and_draws_a_new_seed(studio: Workshop) -> None:
    await studio.command("/image seed=7 a lighthouse in fog")
    reply = await studio.command("/image a variation of #1")
    original, variation = await studio.artifacts()
    assert (variation.parent_id, variation.root_id, variation.version) == (
        original.id,
        original.id,
        2,
    )
    assert variation.params["mode"] == "vary"
    assert variation.params["prompt"] == "a lighthouse in fog"
    new_seed = variation.params["seed"]
    assert new_seed != 7
    assert reply.text == f"prompt unchanged · seed 7 → {new_seed} · strength 0.6"
    assert picture(png_of(studio, variation)).size == (32, 32)


async def test_a_refinement_keeps_the_seed_and_says_how_the_prompt_changed(
    studio: Workshop,
) -> None:
    await studio.command("/image seed=7 a lighthouse in fog")
    reply = await studio.command("/image #1 at sunset")
    original, refined = await studio.artifacts()
    assert refined.parent_id == original.id and refined.params["mode"] == "refine"
    assert refined.params["seed"] == 7
    # The tiny chat model writes noise; its rewrite loses the subject, so the tool appends the
    # change itself and says so rather than passing noise off as a prompt.
    assert refined.params["prompt"] == "a lighthouse in fog, at sunset"
    assert reply.text.startswith("prompt: +at sunset · seed 7 → 7 · strength 0.55 · ")
    assert "so the change was appended" in reply.text
    found = read_parameters(png_of(studio, refined))
    assert found is not None and found.extra["Denoising strength"] == "0.55"


async def test_a_change_named_by_its_instruction_refines_the_latest_image(
    studio: Workshop,
) -> None:
    await studio.command("/image seed=3 a quiet harbour")
    reply = await studio.command("/image make it darker")
    _, refined = await studio.artifacts()
    assert refined.params["prompt"] == "a quiet harbour, darker"
    assert reply.text.startswith("prompt: +darker · seed 3 → 3")
    # A new description is a new piece, even with an image in focus.
    await studio.command("/image seed=3 a castle on a hill")
    assert (await studio.artifacts())[-1].parent_id is None


async def test_a_grid_keeps_every_seed_and_one_cell_can_be_varied(studio: Workshop) -> None:
    reply = await studio.command("/image count=4 seed=20 a fox in the snow")
    grid, *singles = await studio.artifacts()
    assert picture(png_of(studio, grid)).size == (64, 64)
    assert grid.params["seeds"] == [20, 21, 22, 23]
    assert grid.params["grid"] == {"cols": 2, "rows": 2}
    assert read_parameters(png_of(studio, grid)).extra["Batch size"] == "4"  # type: ignore[union-attr]
    assert "seeds 20–23" in reply.text and "pick=N" in reply.text
    # Each image is also a piece of its own, numbered in the reply, with its own seed.
    assert [made.number for made in reply.artifacts] == [grid.id, *(s.id for s in singles)]
    assert [s.params["seed"] for s in singles] == [20, 21, 22, 23]
    third = singles[2]
    assert read_parameters(png_of(studio, third)).seed == 22  # type: ignore[union-attr]
    cell = grid_cell(picture(png_of(studio, grid)), 3, 2, 32, 32)
    assert list(picture(png_of(studio, third)).getdata()) == list(cell.getdata())
    varied = await studio.command("/image pick=3 variation of #1")
    child = (await studio.artifacts())[-1]
    assert child.parent_id == grid.id and picture(png_of(studio, child)).size == (32, 32)
    assert "seed 22 → " in varied.text and "from image 3 of #1" in varied.text


async def test_upscale_doubles_the_size_as_a_child(studio: Workshop) -> None:
    await studio.command("/image seed=5 aspect=16:9 a long train")
    reply = await studio.command("/image upscale #1")
    original, bigger = await studio.artifacts()
    assert picture(png_of(studio, original)).size == size_for("16:9", 32) == (40, 24)
    assert picture(png_of(studio, bigger)).size == (80, 48)
    assert bigger.parent_id == original.id and bigger.params["seed"] == 5
    assert reply.text.startswith("upscaled ×2 to 80x48 · prompt unchanged · seed 5 → 5")


async def test_an_uploaded_picture_is_refined_as_a_child_of_the_upload(studio: Workshop) -> None:
    photo = io.BytesIO()
    Image.new("RGB", (48, 40), "navy").save(photo, format="JPEG")
    upload = Attachment("boat.jpg", "image/jpeg", photo.getvalue())
    reply = await studio.command("/image in watercolor", attachments=[upload])
    kept, refined = await studio.artifacts()
    assert kept.mime_type == "image/png" and picture(png_of(studio, kept)).size == (48, 40)
    assert refined.parent_id == kept.id and refined.params["prompt"] == "in watercolor"
    assert "prompt: +in watercolor · seed none → " in reply.text


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"this is a text file", "not an image I can read"),
        (b"\x89PNG\r\n\x1a\n" + b"\0" * (11 * 1024 * 1024), "images up to 10 MiB are accepted"),
        ("huge", "that image is 5000x40 pixels; up to 4096x4096 are accepted"),
    ],
)
async def test_bad_uploads_are_refused_in_one_line_and_nothing_is_kept(
    studio: Workshop, data: bytes | str, expected: str
) -> None:
    if data == "huge":
        buffer = io.BytesIO()
        Image.new("L", (5000, 40)).save(buffer, format="PNG")
        data = buffer.getvalue()
    assert isinstance(data, bytes)
    reply = await studio.command(
        "/image vary it", attachments=[Attachment("x.png", "image/png", data)]
    )
    assert reply.text.startswith("x.png: ") and expected in reply.text
    assert "\n" not in reply.text
    assert await studio.artifacts() == [] and studio.media_files() == []


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("/image", "What should the image be about?"),
        (
            "/image aspect=4:3 a cat",
            "aspect ratio 4:3 is not supported; choose one of 1:1, 3:2, 2:3, 16:9, 9:16",
        ),
        ("/image count=9 a cat", "count='9': input should be less than or equal to 4"),
        ("/image a nude child", "sexual content involving minors"),
    ],
)
async def test_bad_requests_are_explained_and_nothing_is_made(
    studio: Workshop, line: str, expected: str
) -> None:
    reply = await studio.command(line)
    assert expected in reply.text and not reply.artifacts
    assert await studio.artifacts() == [] and studio.media_files() == []


@pytest.mark.parametrize("prompt", ["a cat", "a car crash in a painting", "a bloody sunset"])
async def test_ordinary_prompts_are_made(studio: Workshop, prompt: str) -> None:
    reply = await studio.command(f"/image seed=1 {prompt}")
    assert len(reply.artifacts) == 1 and len(await studio.artifacts()) == 1


async def test_cancelling_mid_run_stops_between_steps_and_keeps_nothing(
    make_studio: MakeWorkshop, tiny_models: ModelRegistry
) -> None:
    ended = threading.Event()
    outcome: list[BaseException] = []

    def watched(args: ImageArgs, context: ToolContext) -> Any:
        try:
            return make_image(args, context)
        except BaseException as stopped:
            outcome.append(stopped)
            raise
        finally:
            ended.set()

    studio = make_studio([replace(IMAGE_TOOL, run=watched)], models=tiny_models)
    steps: list[str] = []

    def progress(_fraction: float, label: str) -> None:
        steps.append(label)
        if label == "step 2/50":
            task.cancel()  # as when the bot shuts down, or the person's turn is dropped

    turn = Turn(
        "test",
        UserRef("ada", "Ada"),
        PLACE,
        command=parse_command("/image steps=50 seed=1 a slow picture"),
        progress=progress,
    )
    task = asyncio.ensure_future(studio.agent.respond(turn))
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await asyncio.to_thread(ended.wait, 60)
    assert len(outcome) == 1 and isinstance(outcome[0], Cancelled)
    await asyncio.sleep(0.05)  # progress reports still queued for the event loop
    assert "step 50/50" not in steps
    assert await studio.artifacts() == [] and studio.media_files() == []


async def test_progress_is_reported_step_by_step(studio: Workshop) -> None:
    seen: list[str] = []
    turn = Turn(
        "test",
        UserRef("ada", "Ada"),
        PLACE,
        command=parse_command("/image seed=1 a heron"),
        progress=lambda _fraction, label: seen.append(label),
    )
    await studio.agent.respond(turn)
    await asyncio.sleep(0.05)
    assert [label for label in seen if label.startswith("step")] == [
        "step 1/4",
        "step 2/4",
        "step 3/4",
        "step 4/4",
    ]


# --- the tool on its own: policies from settings ---------------------------------------------


def focus_on(data: bytes, tmp_path: Path, **params: Any) -> FocusArtifact:
    path = tmp_path / "focus.png"
    path.write_bytes(data)
    return FocusArtifact(
        number=1,
        kind=ArtifactKind.IMAGE,
        prompt=str(params.get("prompt", "")),
        text=None,
        media_path=path,
        mime_type="image/png",
        params=params,
    )


def test_a_damaged_picture_in_focus_is_refused_naming_the_piece(
    tiny_models: ModelRegistry, tmp_path: Path
) -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (32, 32), "teal").save(buffer, format="PNG")
    focus = focus_on(buffer.getvalue()[:-40], tmp_path)  # cut short, as a failing disk would
    with pytest.raises(ImageRefused, match="can't read the picture of #1"):
        make_image(ImageArgs(mode="vary"), ToolContext(tiny_models, focus=focus))


def test_the_operator_blocklist_refuses_new_and_refined_prompts(
    tiny_models: ModelRegistry, tmp_path: Path
) -> None:
    settings = {"blocklist": "clowns, sunset"}
    with pytest.raises(PromptBlocked, match="“clowns” is on this server's image blocklist"):
        make_image(ImageArgs(prompt="three Clowns juggling"), ToolContext(tiny_models, settings))
    made = make_image(ImageArgs(prompt="a harbour", seed=2), ToolContext(tiny_models))
    assert made.media is not None
    focus = focus_on(made.media.data, tmp_path, **dict(made.params))
    with pytest.raises(PromptBlocked, match="sunset"):
        make_image(
            ImageArgs(prompt="at sunset", mode="refine"),
            ToolContext(tiny_models, settings, focus=focus),
        )


def test_the_default_policy_refuses_only_what_it_must() -> None:
    policy = SafetyPolicy()
    for fine in (
        "a cat",
        "a car crash in a painting",
        "a bloody sunset",
        "a nude figure study",
        "kids flying kites",
        "Sussex coastline",
        "a kidney bean",
    ):
        assert policy.refusal(fine) is None, fine
    for refused in ("loli art", "naked kids", "sexy schoolgirl", "萝莉"):
        assert policy.refusal(refused) is not None, refused


def test_revision_refines_the_focus_by_an_instruction() -> None:
    assert IMAGE_TOOL.revision is not None
    args = IMAGE_TOOL.revision("use a warmer palette")
    assert isinstance(args, ImageArgs) and (args.mode, args.prompt) == (
        "refine",
        "use a warmer palette",
    )


def test_identical_requests_on_the_tool_give_identical_bytes(tiny_models: ModelRegistry) -> None:
    args = ImageArgs(prompt="a paper boat", seed=99, count=2, aspect="2:3")
    first = make_image(args, ToolContext(tiny_models))
    second = make_image(args, ToolContext(tiny_models))
    assert first.media is not None and second.media is not None
    assert hashlib.sha256(first.media.data).digest() == hashlib.sha256(second.media.data).digest()
    assert picture(first.media.data).size == (2 * 24, 40)


async def test_a_poem_asked_to_be_illustrated_is_painted_from_its_lines(
    make_studio: MakeWorkshop, tiny_models: ModelRegistry
) -> None:
    studio = make_studio([VERSE, IMAGE_TOOL], models=tiny_models)
    await studio.command("/verse a heron at dawn")
    reply = await studio.command("/image seed=3 illustrate the poem in watercolor")
    poem, painting = await studio.artifacts()
    assert (painting.kind, painting.parent_id) == ("image", poem.id)
    assert painting.params["poem"] == poem.id
    first_line = (poem.text or "").splitlines()[0]
    assert painting.params["prompt"] == f"{first_line}, the end rhymes with friend, watercolor"
    assert f"painted from the lines of #{poem.id}" in reply.text
    await studio.command("/image seed=3 a lighthouse in fog")  # the poem is not asked about
    lighthouse = (await studio.artifacts())[-1]
    assert lighthouse.parent_id is None and "poem" not in lighthouse.params


# --- the mode is a field: the run reads no words ------------------------------------------------


def test_the_prompt_may_be_left_out_only_with_something_else_to_go_on() -> None:
    for mode in ("vary", "upscale", "illustrate"):
        assert ImageArgs(mode=mode).prompt == ""  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="What should the image be about?"):
        ImageArgs()
    with pytest.raises(ValueError, match="What should the image be about?"):
        ImageArgs(prompt="   ", mode="new")
    with pytest.raises(ValueError, match="Say how to change the image in focus"):
        ImageArgs(mode="refine")


def test_words_in_the_prompt_do_not_choose_the_mode(
    tiny_models: ModelRegistry, tmp_path: Path
) -> None:
    made = make_image(ImageArgs(prompt="a harbour", seed=2), ToolContext(tiny_models))
    assert made.media is not None
    focus = focus_on(made.media.data, tmp_path, **dict(made.params))
    context = ToolContext(tiny_models, focus=focus)
    new = make_image(ImageArgs(prompt="a variation of #1", seed=4), context)
    assert new.params["mode"] == "new" and "from" not in new.params and not new.from_focus
    varied = make_image(ImageArgs(mode="vary", prompt="#1"), context)
    assert varied.params["mode"] == "vary" and varied.params["prompt"] == "a harbour"
    assert varied.from_focus and varied.params["from"] == {"number": 1, "pick": None}


def test_illustrate_needs_a_poem_with_words_in_focus(
    tiny_models: ModelRegistry, tmp_path: Path
) -> None:
    made = make_image(ImageArgs(prompt="a harbour", seed=2), ToolContext(tiny_models))
    assert made.media is not None
    image = focus_on(made.media.data, tmp_path, **dict(made.params))
    blank = replace(image, kind=ArtifactKind.POEM, text="  ", media_path=None)
    for focus in (None, image, blank):
        with pytest.raises(ToolRefused) as refused:
            make_image(ImageArgs(mode="illustrate"), ToolContext(tiny_models, focus=focus))
        assert str(refused.value) == "There is no poem in focus to illustrate; name it as #N."
    poem = replace(blank, text="a heron at dawn\nthe river turns to gold")
    painted = make_image(ImageArgs(mode="illustrate", seed=1), ToolContext(tiny_models, focus=poem))
    assert painted.params["prompt"] == "a heron at dawn, the river turns to gold"
    assert painted.params["poem"] == 1 and painted.from_focus


def test_the_tool_reads_its_words_with_its_intents_table() -> None:
    assert IMAGE_TOOL.reads is read_image_request
    assert IMAGE_TOOL.reads("a variation of #1") == {"mode": "vary", "prompt": ""}


def test_a_sessions_shared_style_ends_a_new_pictures_prompt(tiny_models: ModelRegistry) -> None:
    made = make_image(ImageArgs(prompt="a harbour", seed=2), ToolContext(tiny_models, style="ink"))
    assert made.params["prompt"] == "a harbour, ink"
