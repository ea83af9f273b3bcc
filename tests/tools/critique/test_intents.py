"""The critique tool's free-text rules (tools/critique/intents.py): a request's words -> the
CritiqueArgs fields they set, in English and Chinese: a poem pasted in, or what to look at."""

from __future__ import annotations

from typing import Any

import pytest

from tools.critique.intents import read_critique_request
from tools.critique.tool import CRITIQUE_TOOL, CritiqueArgs

HAIKU = "An old silent pond / A frog jumps into the deep pond / splash! silence again"
QUIET_NIGHT = "床前明月光\n疑是地上霜\n举头望明月\n低头思故乡"

ENGLISH = [
    ("critique #4", {}),
    ("judge my haiku", {}),
    ("judge my haiku honestly", {}),
    ("what do you think?", {}),
    ("take a look at #4", {}),
    ("focus on the rhythm", {"focus_on": "the rhythm"}),
    ("look at the colours", {"focus_on": "the colours"}),
    ("review my song, especially the chorus", {"focus_on": "the chorus"}),
    ("critique #4: focus on the rhythm", {"focus_on": "the rhythm"}),
    ("does the rhythm of #8 work?", {"focus_on": "does the rhythm of it work?"}),
    ("be harsh", {"focus_on": "be harsh"}),
    (HAIKU, {"poem": "An old silent pond\nA frog jumps into the deep pond\nsplash! silence again"}),
    (
        "what do you think of this:\nrain on tin\nthe roof hums",
        {"poem": "rain on tin\nthe roof hums"},
    ),
    (
        "focus on the rhythm:\nrain on tin\nthe roof hums",
        {"poem": "rain on tin\nthe roof hums", "focus_on": "the rhythm"},
    ),
]
CHINESE = [
    ("评价一下这首诗", {}),
    ("点评一下这幅画", {}),
    ("你觉得#3怎么样，请给点意见", {}),
    ("帮我看看这首歌", {}),
    ("重点看节奏", {"focus_on": "节奏"}),
    ("着重评价意境", {"focus_on": "意境"}),
    ("特别注意用词", {"focus_on": "用词"}),
    ("请评价#5的构图", {"focus_on": "请评价它的构图"}),  # not only asking: passed on whole
    ("床前明月光，疑是地上霜。举头望明月，低头思故乡。", {"poem": QUIET_NIGHT}),
    ("评价一下这首诗：床前明月光，疑是地上霜。举头望明月，低头思故乡。", {"poem": QUIET_NIGHT}),
]


@pytest.mark.parametrize(("words", "fields"), ENGLISH + CHINESE)
def test_the_words_set_these_fields(words: str, fields: dict[str, Any]) -> None:
    assert read_critique_request(words) == fields
    assert CRITIQUE_TOOL.reads is read_critique_request
    CritiqueArgs(text=words, **fields)  # every field read is one the tool accepts


@pytest.mark.parametrize(
    ("poem", "lines"),
    [
        (HAIKU, ["An old silent pond", "A frog jumps into the deep pond", "splash! silence again"]),
        ("床前明月光，疑是地上霜。举头望明月，低头思故乡。", QUIET_NIGHT.splitlines()),
        ("  one line only  ", ["one line only"]),
    ],
)
def test_a_poem_given_as_a_field_has_one_line_per_line(poem: str, lines: list[str]) -> None:
    assert (CritiqueArgs(poem=poem).poem or "").splitlines() == lines
    assert CritiqueArgs(poem="   ").poem is None
