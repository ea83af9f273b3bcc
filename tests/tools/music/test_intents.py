"""The music tool's free-text rules (tools/music/intents.py), as a table: each request and the
MusicArgs fields its words set. A #N is the agent's to read, so it sets nothing here."""

from __future__ import annotations

from typing import Any

import pytest

from tools.music.intents import read_music_request
from tools.music.tool import MUSIC_TOOL

ENGLISH: list[tuple[str, dict[str, Any]]] = [
    ("extend #5 by 20 seconds", {"mode": "extend", "duration": 20}),
    ("continue it", {"mode": "extend"}),
    ("keep going", {"mode": "extend"}),
    ("extend the track by twenty seconds", {"mode": "extend", "duration": 20}),
    ("add another 10 seconds", {"mode": "extend", "duration": 10}),
    ("extend it by a second", {"mode": "extend", "duration": 1}),
    ("make it longer", {"mode": "extend"}),
    ("make the drums softer", {"mode": "rework"}),
    ("another take", {"mode": "rework"}),
    ("redo it", {"mode": "rework"}),
    ("make it a bit slower", {"mode": "rework"}),
    ("more reverb", {"mode": "rework"}),
    ("a second take", {"mode": "rework"}),
    ("set #3 to music", {"mode": "poem"}),
    ("set my poem to music", {"mode": "poem"}),
    ("sing poem #3", {"mode": "poem"}),
    ("a melody for the haiku", {"mode": "poem"}),
    ("I'd love to hear #4 sung", {"mode": "poem"}),
    ("make my haiku into a short tune", {"mode": "poem"}),
    ("set this poem to music with a harp", {"mode": "poem"}),
    ("write music that goes with these lines", {"mode": "poem"}),
    # Lengths on their own: a new piece of that length.
    ("two seconds of rain and soft synths", {"duration": 2}),
    ("8 seconds of rain", {"duration": 8}),
    ("a 20-second clip of rain", {"duration": 20}),
    ("1.5 s of wind chimes", {"duration": 1.5}),
    ("a minute of ambient drones", {"duration": 60}),
    ("half a minute of rain", {"duration": 30}),
    # New pieces: words that only describe the music set nothing.
    ("rainy night jazz, slow brushes", {}),
    ("a calm piano piece for #3", {}),
    ("#3", {}),
    ("an extended jazz solo over a continuous drone", {}),
    ("make the music for a party", {}),
    ("a darker, slower jazz piece", {}),
    ("a song without lyrics", {}),
    ("80s synthwave with gated drums", {}),
    ("1970s funk", {}),
    ("jazz as soft as rain", {}),
]

CHINESE: list[tuple[str, dict[str, Any]]] = [
    ("延长二十秒", {"mode": "extend", "duration": 20}),
    ("把#5延长20秒", {"mode": "extend", "duration": 20}),
    ("继续", {"mode": "extend"}),
    ("继续，再来三十秒", {"mode": "extend", "duration": 30}),
    ("重新编曲", {"mode": "rework"}),
    ("换个风格", {"mode": "rework"}),
    ("再来一版", {"mode": "rework"}),
    ("让它更欢快一点", {"mode": "rework"}),
    ("给#3配乐", {"mode": "poem"}),
    ("把这首诗唱成歌", {"mode": "poem"}),
    ("为这首诗谱曲", {"mode": "poem"}),
    ("给这首诗作曲", {"mode": "poem"}),
    ("二十秒的古筝", {"duration": 20}),
    ("20秒的雨声", {"duration": 20}),
    ("一分钟的雨声和钢琴", {"duration": 60}),
    ("半分钟的鼓声", {"duration": 30}),
    ("十五秒钟的笛子", {"duration": 15}),
    ("一段安静的钢琴曲", {}),
    ("一段电影配乐", {}),  # a film score, not a poem set to music
    ("十分安静的夜曲", {}),  # 十分 is "very", not ten minutes
]


@pytest.mark.parametrize(("request_words", "expected"), ENGLISH + CHINESE)
def test_the_words_set_these_fields(request_words: str, expected: dict[str, Any]) -> None:
    assert read_music_request(request_words) == expected


def test_the_tool_reads_its_free_text_with_these_rules() -> None:
    assert MUSIC_TOOL.reads is read_music_request
