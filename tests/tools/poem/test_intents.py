"""The poem tool's free-text rules (tools/poem/intents.py): a request's words -> the PoemArgs
fields they set, in English and Chinese; and the revision args built on them."""

from __future__ import annotations

from typing import Any

import pytest

from tools.poem.intents import read_poem_request
from tools.poem.tool import POEM_TOOL, PoemArgs, revision_args

REVISE = {"mode": "revise"}
NEW = {"mode": "new"}
PICTURE = {"mode": "picture"}

ENGLISH = [
    ("a heron in the rain", {}),
    ("a haiku about the first snow", {"form": "haiku", **NEW}),
    ("write a sonnet about the sea", {"form": "sonnet", **NEW}),
    ("free verse about rain", {"form": "free verse"}),
    ("a haiku or a sonnet?", NEW),  # two forms named: neither is chosen
    ("the sonneteer's lament", {}),  # a form inside another word is not named
    ("a poem about being free", NEW),  # "free" alone is not free verse
    ("write a poem to change the world", NEW),
    ("a darker poem about the sea", NEW),
    ("make it darker", REVISE),
    ("shorter, please", REVISE),
    ("add a stanza about the river", {**REVISE, "add_stanza": True}),
    ("add another stanza after line 4", {**REVISE, "add_stanza": True}),
    ("#1 change line 2 to mention the moon", {**REVISE, "change_lines": (2,)}),
    ("change lines 2 and 3", {**REVISE, "change_lines": (2, 3)}),
    ("rewrite lines 1-3 with more light", {**REVISE, "change_lines": (1, 2, 3)}),
    ("the second line should rhyme", {**REVISE, "change_lines": (2,)}),
    ("write one line about the moon", NEW),  # a length, not line 1
    # A critique's suggestions: the line to change, not the lines cited in parentheses.
    ("Rewrite line 2 to 7 syllables: it has 8.", {**REVISE, "change_lines": (2,)}),
    (
        'Vary the word "pond" in line 2: it is used 2 times (lines 1, 2).',
        {**REVISE, "change_lines": (2,)},
    ),
    (
        "Rewrite line 3 so that it rhymes as the form asks (lines 1 and 3 should rhyme (a / b)).",
        {**REVISE, "change_lines": (3,)},
    ),
    (
        "Bring the poem to the length of a haiku: it has 4 lines, wanted 3.",
        {"form": "haiku", **REVISE},
    ),
    # A poem from the picture in focus (an upload, or the #N named).
    ("write a poem about this picture", PICTURE),
    ("a haiku about this old photo", {"form": "haiku", **PICTURE}),
    ("a poem for #5", PICTURE),
    ("write a poem about the picture", PICTURE),
    ("a poem about the picture of health", NEW),  # an idiom, not a picture
    # 平仄 kept exactly; "strict" about something else is not it.
    ("a strict 五言绝句 about autumn", {"form": "wujue", "strict": True}),
    ("a poem about my strict father", NEW),
    # The person's own poems as examples.
    ("write a poem in my voice about rain", {"voice": True, **NEW}),
    ("a sonnet about the sea in my own voice", {"form": "sonnet", "voice": True, **NEW}),
]
CHINESE = [
    ("写一首关于春天的诗", NEW),
    ("写一首五言绝句", {"form": "wujue", **NEW}),
    ("来一首七绝，写秋天", {"form": "qijue", **NEW}),
    ("一首七言律诗，写长江", {"form": "qilv", **NEW}),  # 七言律诗, not also 律诗
    ("一首关于秋天的诗", NEW),
    ("给这首诗加一段", {**REVISE, "add_stanza": True}),
    ("再写一段关于河流的", {**REVISE, "add_stanza": True}),
    ("改得更忧伤", REVISE),
    ("更忧伤一些", REVISE),
    ("把第二行改成月亮", {**REVISE, "change_lines": (2,)}),
    ("第三句换成别的", {**REVISE, "change_lines": (3,)}),
    ("把第十二行删掉", {**REVISE, "change_lines": (12,)}),
    ("把它改成一首五言绝句", {"form": "wujue", **REVISE}),
    ("为这张图写一首诗", PICTURE),
    ("看图写诗", PICTURE),
    ("给#5写首诗", PICTURE),
    ("写一首严格合平仄的五言绝句", {"form": "wujue", "strict": True, **NEW}),
    ("写一首讲平仄的七绝", {"form": "qijue", "strict": True, **NEW}),
    ("像我写的那样写一首诗", {"voice": True, **NEW}),
    ("用我的口吻写一首关于海的诗", {"voice": True, **NEW}),
]


@pytest.mark.parametrize(("words", "fields"), ENGLISH + CHINESE)
def test_the_words_set_these_fields(words: str, fields: dict[str, Any]) -> None:
    assert read_poem_request(words) == fields
    assert POEM_TOOL.reads is read_poem_request
    PoemArgs(prompt=words, **fields)  # every field read is one the tool accepts


def test_a_revision_is_a_revision_whatever_its_words() -> None:
    args = revision_args("Make line 4 end on a concrete image: it is “a boat”.")
    assert (args.mode, args.change_lines, args.add_stanza) == ("revise", (4,), False)
    assert revision_args("a haiku about snow").mode == "revise"


@pytest.mark.parametrize(
    ("options", "mode", "lines"),
    [
        ({"change_lines": "1,3"}, "revise", (1, 3)),  # a console's or a slash option's text
        ({"change_lines": 2}, "revise", (2,)),
        ({"add_stanza": "true"}, "revise", None),
        ({"mode": "new", "add_stanza": True}, "new", None),  # an explicit mode stands
        ({}, None, None),
    ],
)
def test_options_that_change_the_poem_are_a_revision(
    options: dict[str, Any], mode: str | None, lines: tuple[int, ...] | None
) -> None:
    args = PoemArgs(prompt="the sea", **options)
    assert (args.mode, args.change_lines) == (mode, lines)


def test_line_numbers_that_are_not_numbers_are_explained() -> None:
    with pytest.raises(ValueError, match=r"give line numbers, e\.g\. 2 or 1,3"):
        PoemArgs(prompt="the sea", change_lines="two")
