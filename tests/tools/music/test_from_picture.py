"""Music for the picture in focus (mode "picture"): the vision model says what the picture
shows, the clip is made from that and the request's musical words, and it is a new piece whose
parent is the picture. The tiny vision model's words are noise, but they are its own words
about this picture, and the clip says so."""

from __future__ import annotations

import pytest

from agent.types import Attachment
from tests.support.studio_tools import PGM, PGM_HEADER, TRACE
from tests.support.threads import one_thread  # noqa: F401 - autouse
from tests.support.workshop import MakeWorkshop, Workshop
from tools.from_image import NO_PICTURE
from tools.models.registry import ModelRegistry
from tools.music.intents import read_music_request
from tools.music.tool import MUSIC_TOOL


@pytest.fixture
def studio(make_studio: MakeWorkshop, tiny_models: ModelRegistry) -> Workshop:
    return make_studio([MUSIC_TOOL, TRACE], models=tiny_models)


async def test_music_for_a_picture_is_made_from_what_the_vision_model_sees(
    studio: Workshop,
) -> None:
    grey = Attachment("dusk.pgm", PGM, PGM_HEADER + bytes(range(256)))
    reply = await studio.command(
        "/music mode=picture seed=2 duration=1 music for this picture, with a slow piano",
        attachments=[grey],
    )
    picture, clip = await studio.artifacts()
    assert (picture.kind, clip.kind) == ("image", "music")
    # Another kind made from the focus: its own tree, with the picture as its parent.
    assert (clip.parent_id, clip.root_id) == (picture.id, None)
    seen = clip.params["picture_description"]
    assert clip.params["picture"] == picture.id and clip.params["mode"] == "picture"
    # The person's words first, then what the picture shows (cut to what MusicGen reads).
    assert seen and clip.text == f"slow piano, {seen}"[:300]
    assert f"music for #{picture.id}, as the vision model sees it: {seen}" in reply.text


async def test_without_a_picture_in_focus_it_says_so_and_keeps_nothing(studio: Workshop) -> None:
    reply = await studio.command("/music mode=picture seed=1 music for this picture")
    assert reply.text == NO_PICTURE
    assert await studio.artifacts() == []


def test_the_picture_button_asks_for_this_mode() -> None:
    assert MUSIC_TOOL.from_picture == {"mode": "picture"}


@pytest.mark.parametrize(
    ("request_words", "expected"),
    [
        ("music for this picture", {"mode": "picture"}),
        ("a soundtrack for the photo", {"mode": "picture"}),
        ("make music from #5", {"mode": "picture"}),
        ("20 seconds of music to match this painting", {"mode": "picture", "duration": 20}),
        ("为这张图配乐", {"mode": "picture"}),
        ("给这幅画配乐", {"mode": "picture"}),
        ("根据这张照片作曲", {"mode": "picture"}),
        ("use this tune for a string quartet", {"mode": "melody"}),
        ("follow my melody with a jazz trio", {"mode": "melody"}),
        ("this hum as a cello piece", {"mode": "melody"}),
        ("I hummed it, play it on a harp", {"mode": "melody"}),
        ("把这段旋律改成弦乐四重奏", {"mode": "melody"}),
        ("用这段旋律写一段钢琴曲", {"mode": "melody"}),
        ("我哼的，改成吉他", {"mode": "melody"}),
        # Not these modes: a melody or a picture only described (said to be new, so the
        # agent does not read the word as the mode of that name), or a tune continued.
        ("a piano piece with a sad melody", {"mode": "new"}),
        ("a humming drone", {}),
        ("picture this: rain on a tin roof", {"mode": "new"}),
        ("continue this melody", {"mode": "extend"}),
        ("给#3配乐", {"mode": "poem"}),
    ],
)
def test_the_words_ask_for_a_picture_or_a_tune(request_words: str, expected: dict) -> None:
    assert read_music_request(request_words) == expected
