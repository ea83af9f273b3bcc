"""The image tool's free-text rules (tools/image/intents.py): which fields a request's words
set, in English and Chinese. A #N decides nothing (the agent reads it into `piece`), and an
instruction is the request with the #N and the operation's own words taken out."""

from __future__ import annotations

from typing import Any

import pytest

from tools.image.intents import instruction_of, read_image_request

NEW: dict[str, Any] = {}
VARY: dict[str, Any] = {"mode": "vary", "prompt": ""}
UPSCALE: dict[str, Any] = {"mode": "upscale"}
ILLUSTRATE: dict[str, Any] = {"mode": "illustrate"}
COVER: dict[str, Any] = {"mode": "cover", "prompt": ""}
# "cover" said without asking for one: a new picture, not the mode its bare name would read as.
NOT_A_COVER: dict[str, Any] = {"mode": "new"}


def styled(prompt: str) -> dict[str, Any]:
    return {"mode": "styled", "prompt": prompt}


def refine(instruction: str) -> dict[str, Any]:
    return {"mode": "refine", "prompt": instruction}


ENGLISH = [
    ("in the style of this", styled("")),
    ("a fox in the style of #12", styled("a fox")),
    ("a lighthouse, in the style of this picture", styled("a lighthouse")),
    ("a cat in this picture's style", styled("a cat")),
    ("paint a harbour like this style", styled("a harbour")),
    ("in the style of van gogh, a fox", NEW),  # a style in words, not a picture
    ("a lighthouse in fog", NEW),
    ("draw a castle on a hill at dusk", NEW),
    ("an illustration of a fox in the snow", NEW),
    ("a variation of #3", VARY),
    ("a variation of #1", VARY),
    ("variation of #1", VARY),
    ("another take of #12", VARY),  # the Discord Variation button's words
    ("another take", VARY),
    ("re-roll", VARY),
    ("please vary it", VARY),
    ("a variation of #3 at sunset", {"mode": "vary", "prompt": "at sunset"}),
    ("upscale #3", UPSCALE),
    ("upscale #1", UPSCALE),
    ("enlarge it", UPSCALE),
    ("make it darker", refine("make it darker")),
    ("darker", refine("darker")),
    ("same but at night", refine("at night")),
    ("add a moon", refine("add a moon")),
    ("remove the boat", refine("remove the boat")),
    ("#1 at sunset", refine("at sunset")),
    ("in watercolor", refine("in watercolor")),  # only a style: a change to the image
    ("illustrate my poem", ILLUSTRATE),
    ("draw the haiku", ILLUSTRATE),
    ("a painting of these lines", ILLUSTRATE),
    ("illustrate the poem in watercolor", ILLUSTRATE),
    ("illustrate #2", ILLUSTRATE),
    ("turn the sonnet into an ink drawing", ILLUSTRATE),
    ("paint it", ILLUSTRATE),  # "it" with nothing else to paint: the piece in focus
    ("draw this in ink", ILLUSTRATE),
    ("paint a red fox", NEW),
    ("draw a lighthouse in fog", NEW),
    # The bugs: an opening in/with/at/as made any request a refinement, and a bare #N made
    # one a picture of the poem in focus.
    ("in watercolor, a fox", NEW),
    ("in a small boat on a stormy sea at night", NEW),
    ("a dog, like #3", NEW),
    ("make an image of #4", NEW),
    ("a cover for this clip", COVER),
    ("make a picture for this music", COVER),
    ("make a cover", COVER),
    ("give it a cover", COVER),
    ("draw this song", COVER),
    ("album art for #4 in watercolor", {"mode": "cover", "prompt": "in watercolor"}),
    ("cover art for #4 with a red moon", {"mode": "cover", "prompt": "with a red moon"}),
    ("a book cover with a dragon", NOT_A_COVER),
    ("a fox taking cover under a tree", NOT_A_COVER),
    ("a painting of the songbird", NEW),
]

CHINESE = [
    ("照这张图的风格画一只猫", styled("一只猫")),
    ("按#12的风格画一座山", styled("一座山")),
    ("用这幅画的风格", styled("")),
    ("模仿这张图的画风，画一只鹤", styled("一只鹤")),
    ("画一座雪山", NEW),
    ("画一个正在读诗的老人", NEW),
    ("再来一个变体", VARY),
    ("换个种子", VARY),
    ("#3 的变体", VARY),
    ("#3 再来一个变体，在日落时", {"mode": "vary", "prompt": "在日落时"}),
    ("放大", UPSCALE),
    ("高清 #2", UPSCALE),
    ("把它画得更暗一些", refine("画得更暗一些")),
    ("更亮", refine("更亮")),
    ("加上一轮明月", refine("加上一轮明月")),
    ("去掉那棵树", refine("去掉那棵树")),
    ("把这首诗画出来", ILLUSTRATE),
    ("画出这首诗的意境", ILLUSTRATE),
    ("为我的诗配一幅画", ILLUSTRATE),
    ("为这首诗配一幅画", ILLUSTRATE),
    ("像 #3 那样画一只狗", NEW),  # a bare #N: not a picture of the poem
    ("为这段音乐画一张封面", COVER),
    ("给这首歌配个封面", COVER),
    ("把这段音乐画出来", COVER),
    ("为这段曲子配一幅画，要有雨", {"mode": "cover", "prompt": "要有雨"}),
    ("为这首歌词配一幅画", ILLUSTRATE),  # lyrics are a poem
    ("画一本书的封面", NEW),
]


@pytest.mark.parametrize(("request_words", "fields"), ENGLISH + CHINESE)
def test_the_words_of_a_request_set_these_fields(
    request_words: str, fields: dict[str, Any]
) -> None:
    assert read_image_request(request_words) == fields


def test_the_table_has_both_languages() -> None:
    assert len(ENGLISH) >= 8 and len(CHINESE) >= 8


def test_instructions_lose_the_piece_and_the_operation_words() -> None:
    assert instruction_of("a variation of #3 at sunset") == "at sunset"
    assert instruction_of("please vary #12") == ""
    assert instruction_of("a variation of #3 with a bowl of fruit") == "with a bowl of fruit"
    assert instruction_of("请把它画得更暗一些") == "画得更暗一些"


# A trained style named as the person's own is read into style_name, its words out of the
# prompt, and the rest of the request read as it would be alone.
PERSONAL_STYLES = [
    ("a fox in my watercolor style", {"prompt": "a fox", "style_name": "watercolor"}),
    ("in my style 'ink', a heron", {"prompt": "a heron", "style_name": "ink"}),
    (
        "a lighthouse in my soft pastel style at dusk",
        {"prompt": "a lighthouse at dusk", "style_name": "soft pastel"},
    ),
    ("with my own ink-wash style, a crane", {"prompt": "a crane", "style_name": "ink-wash"}),
    ("a variation of #3 in my ink style", {"prompt": "", "mode": "vary", "style_name": "ink"}),
    ("用我的水彩风格画一只猫", {"prompt": "画一只猫", "style_name": "水彩"}),
    ("按我的「水墨」画风画一座山", {"prompt": "画一座山", "style_name": "水墨"}),
    # Not a style of the person's own: style words of the prompt, as before.
    ("a fox in watercolor style", NEW),
    ("in my own style, a fox", NEW),
    ("用水彩风格画一只猫", NEW),
]


@pytest.mark.parametrize(("request_words", "fields"), PERSONAL_STYLES)
def test_a_style_of_ones_own_is_read_by_name(request_words: str, fields: dict[str, Any]) -> None:
    assert read_image_request(request_words) == fields
