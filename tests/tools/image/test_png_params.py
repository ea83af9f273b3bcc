"""The `parameters` PNG chunk in AUTOMATIC1111's format: what atelier writes reads back, and
what the web UI writes reads too."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from tools.image.png_params import (
    GenerationParameters,
    NotParameters,
    format_parameters,
    parse_parameters,
    png_bytes,
    read_parameters,
)

PARAMS = GenerationParameters(
    prompt="a lighthouse in fog, oil painting\nwide shot",
    negative_prompt="blurry, text",
    steps=4,
    sampler="Euler",
    cfg_scale=0.0,
    seed=7,
    width=512,
    height=768,
    model="stabilityai/sd-turbo",
    extra={"Denoising strength": "0.55"},
)


def test_the_text_is_laid_out_as_the_web_ui_writes_it() -> None:
    assert format_parameters(PARAMS) == (
        "a lighthouse in fog, oil painting\nwide shot\n"
        "Negative prompt: blurry, text\n"
        "Steps: 4, Sampler: Euler, CFG scale: 0, Seed: 7, Size: 512x768, "
        "Model: stabilityai/sd-turbo, Denoising strength: 0.55"
    )


def test_without_a_negative_prompt_there_is_no_such_line() -> None:
    plain = GenerationParameters("a cat", 20, "Euler a", 7.5, 1, 512, 512, "sd")
    assert format_parameters(plain) == (
        "a cat\nSteps: 20, Sampler: Euler a, CFG scale: 7.5, Seed: 1, Size: 512x512, Model: sd"
    )
    assert parse_parameters(format_parameters(plain)) == plain


def test_the_png_chunk_round_trips() -> None:
    data = png_bytes(Image.new("RGB", (8, 8), "teal"), PARAMS)
    assert read_parameters(data) == PARAMS
    assert Image.open(io.BytesIO(data)).text["parameters"] == format_parameters(PARAMS)


def test_values_with_commas_and_colons_are_quoted_and_come_back() -> None:
    odd = GenerationParameters(
        "雪山, 水墨画", 4, "Euler", 0.0, 3, 64, 64, "C:\\models\\turbo, v2", extra={"Note": "a: b"}
    )
    text = format_parameters(odd)
    assert 'Model: "C:\\\\models\\\\turbo, v2"' in text
    assert read_parameters(png_bytes(Image.new("RGB", (8, 8)), odd)) == odd


def test_what_the_web_ui_writes_is_read() -> None:
    written = (
        "masterpiece, a castle\n"
        "Negative prompt: lowres, bad anatomy\n"
        "Steps: 20, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 7, Seed: 3928361920, "
        "Size: 512x768, Model hash: 6ce0161689, Model: v1-5-pruned-emaonly, Version: v1.9.4"
    )
    found = parse_parameters(written)
    assert (found.prompt, found.negative_prompt) == ("masterpiece, a castle", "lowres, bad anatomy")
    assert (found.steps, found.sampler, found.cfg_scale, found.seed) == (
        20,
        "DPM++ 2M",
        7.0,
        3928361920,
    )
    assert (found.width, found.height, found.model) == (512, 768, "v1-5-pruned-emaonly")
    assert found.extra == {
        "Schedule type": "Karras",
        "Model hash": "6ce0161689",
        "Version": "v1.9.4",
    }


def test_a_png_without_parameters_has_none() -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4)).save(buffer, format="PNG")
    assert read_parameters(buffer.getvalue()) is None
    with pytest.raises(NotParameters, match="Seed"):
        parse_parameters("a cat\nSteps: 20, Sampler: Euler")
