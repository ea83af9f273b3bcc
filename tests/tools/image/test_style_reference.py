"""A picture in the style of a reference picture (issue 19, Deliver 1): the tiny random
IP-Adapter and CLIP image encoder, built from configs and loaded with diffusers' own
load_ip_adapter into the tiny image pipeline. The reference changes the picture, the same one
twice makes the same picture, it is recorded in the params and the PNG, the new piece is made
from the reference (not a version of it), and a picture without a reference is unchanged by
the adapter being loaded."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from agent.types import Attachment
from tests.support.workshop import MakeWorkshop
from tools.contract import ArtifactDraft, ArtifactKind, FocusArtifact, ToolContext
from tools.image.batching import render_work
from tools.image.ip_adapter import SETTING, TINY_IP_ADAPTER
from tools.image.memory import MemoryOptions
from tools.image.png_params import read_parameters
from tools.image.rendering import Render
from tools.image.safety import ImageRefused
from tools.image.tool import IMAGE_TOOL, ImageArgs, make_image
from tools.models.registry import ModelRegistry
from tools.models.specs import ModelUnavailable

WITH_ADAPTER = {"ip_adapter": TINY_IP_ADAPTER}


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def stripes() -> bytes:
    image = Image.new("RGB", (32, 32), "white")
    for x in range(0, 32, 4):
        image.paste((200, 30, 30), (x, 0, x + 2, 32))
    return png(image)


def sky() -> bytes:
    return png(Image.linear_gradient("L").resize((32, 32)).convert("RGB"))


def focus_of(data: bytes, tmp_path: Path, number: int) -> FocusArtifact:
    path = tmp_path / f"reference-{number}.png"
    path.write_bytes(data)
    return FocusArtifact(number, ArtifactKind.IMAGE, "", None, path, "image/png", {"upload": 1})


def styled(models: ModelRegistry, focus: FocusArtifact, **fields: object) -> ArtifactDraft:
    args = ImageArgs(prompt="a lighthouse", seed=3, mode="styled", **fields)  # type: ignore[arg-type]
    return make_image(args, ToolContext(models, WITH_ADAPTER, focus=focus))


def pixels(draft: ArtifactDraft) -> bytes:
    assert draft.media is not None
    return Image.open(io.BytesIO(draft.media.data)).convert("RGB").tobytes()


def test_the_reference_changes_the_picture_and_the_same_one_makes_it_again(
    tiny_models: ModelRegistry, tmp_path: Path
) -> None:
    plain = make_image(ImageArgs(prompt="a lighthouse", seed=3), ToolContext(tiny_models))
    first = styled(tiny_models, focus_of(stripes(), tmp_path, 12))
    again = styled(tiny_models, focus_of(stripes(), tmp_path, 12))
    other = styled(tiny_models, focus_of(sky(), tmp_path, 13))
    assert pixels(first) == pixels(again)
    assert pixels(first) != pixels(other)
    assert pixels(first) != pixels(plain)
    weaker = styled(tiny_models, focus_of(stripes(), tmp_path, 12), style_strength=0.1)
    assert pixels(weaker) != pixels(first)
    # With the adapter loaded, a picture without a reference is the one it was before.
    after = make_image(ImageArgs(prompt="a lighthouse", seed=3), ToolContext(tiny_models))
    assert pixels(after) == pixels(plain)


def test_the_reference_is_recorded_in_the_params_the_png_and_the_note(
    tiny_models: ModelRegistry, tmp_path: Path
) -> None:
    draft = styled(tiny_models, focus_of(stripes(), tmp_path, 12), style_strength=0.8)
    assert (draft.from_focus, draft.focus_is_source) == (True, True)
    assert draft.params["mode"] == "styled"
    assert draft.params["style_image"] == {
        "number": 12,
        "pick": None,
        "strength": 0.8,
        "ip_adapter": TINY_IP_ADAPTER,
    }
    assert draft.media is not None
    found = read_parameters(draft.media.data)
    assert found is not None and found.prompt == "a lighthouse"
    assert found.extra["Style image"] == "#12" and found.extra["Style strength"] == "0.8"
    assert draft.note is not None and draft.note.startswith("in the style of #12 (strength 0.8)")


def test_style_image_names_the_piece_in_styled_mode() -> None:
    args = ImageArgs(style_image="#12", prompt="a fox")  # type: ignore[arg-type]
    assert (args.piece, args.mode, args.style_image) == (12, "styled", 12)
    assert ImageArgs(style_image=12).prompt == ""  # the reference alone is enough to go on
    with pytest.raises(ValueError, match="style_image and piece differ"):
        ImageArgs(style_image=12, piece=3)
    with pytest.raises(ValueError, match="cannot upscale"):
        ImageArgs(style_image=12, mode="upscale")
    with pytest.raises(ValueError, match="less than or equal to 1"):
        ImageArgs(style_image=12, style_strength=1.5)


def test_without_a_picture_or_an_adapter_it_is_one_line(
    tiny_models: ModelRegistry, tmp_path: Path
) -> None:
    with pytest.raises(ImageRefused, match="no picture to take the style from"):
        make_image(ImageArgs(mode="styled"), ToolContext(tiny_models, WITH_ADAPTER))
    focus = focus_of(stripes(), tmp_path, 12)
    with pytest.raises(ModelUnavailable, match=SETTING) as refused:
        make_image(ImageArgs(mode="styled"), ToolContext(tiny_models, focus=focus))
    assert "\n" not in str(refused.value)


async def test_an_attached_picture_is_the_source_of_a_new_piece(
    make_studio: MakeWorkshop, tiny_models: ModelRegistry
) -> None:
    studio = make_studio([IMAGE_TOOL], models=tiny_models)
    # The workshop builds its Studio without tool settings; the app passes Settings'.
    studio.studio._tool_settings = {"image": WITH_ADAPTER}
    upload = Attachment("stripes.png", "image/png", stripes())
    reply = await studio.command("/image a fox in the style of this", attachments=[upload])
    reference, made = await studio.artifacts()
    assert made.kind == "image" and made.params["mode"] == "styled"
    assert made.params["prompt"] == "a fox"
    assert made.params["style_image"]["number"] == reference.id
    # Made from the reference, not a version of it: the reference is its parent, and it
    # starts a version tree of its own.
    assert made.parent_id == reference.id
    assert (made.root_id, made.version) == (None, 1)
    assert f"in the style of #{reference.id}" in reply.text


def test_renders_batch_only_with_the_same_reference_at_the_same_strength(
    tiny_models: ModelRegistry,
) -> None:
    loaded = tiny_models.get("image")
    stripes_image = Image.open(io.BytesIO(stripes()))
    plain = Render("a fox", "", 32, 32, 4, 5.0, (1,))

    def shape(job: Render) -> object:
        return render_work(loaded, job, MemoryOptions(), lambda _d, _t: None).shape

    def with_reference(number: int, strength: float) -> Render:
        return Render(
            "a fox",
            "",
            32,
            32,
            4,
            5.0,
            (1,),
            reference=stripes_image,
            reference_number=number,
            reference_strength=strength,
        )

    assert shape(with_reference(12, 0.6)) == shape(with_reference(12, 0.6))
    assert shape(with_reference(12, 0.6)) != shape(with_reference(12, 0.3))
    assert shape(with_reference(12, 0.6)) != shape(with_reference(13, 0.6))
    assert shape(with_reference(12, 0.6)) != shape(plain)
