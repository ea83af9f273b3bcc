"""What a person's kept clips lend a new clip: the instruments and tempo most of them name and
their usual length, only where the request leaves those open."""

from __future__ import annotations

from tools.music.taste import MusicTaste, music_taste, tasted_fields

KEPT = (
    {"description": "slow solo piano, rain", "duration": 12.0},
    {"description": "slow piano with soft cello", "duration": 10.0},
    {"description": "upbeat jazz drums", "duration": 20.0},
)


def test_what_most_kept_clips_share_becomes_the_default() -> None:
    taste = music_taste(KEPT)
    assert taste == MusicTaste(instruments=("piano",), tempo="slow", duration=12.0)
    assert taste.words() == "piano, slow, 12 s"


def test_a_request_naming_instruments_tempo_or_length_keeps_them() -> None:
    taste = MusicTaste(instruments=("piano",), tempo="slow", duration=12.0)
    assert tasted_fields("a rainy night", None, taste) == {
        "description": "a rainy night, piano, slow",
        "duration": 12.0,
    }
    assert tasted_fields("fast violin reel", 5.0, taste) == {}


def test_no_kept_clips_lend_nothing() -> None:
    assert music_taste(()) == MusicTaste()
    assert tasted_fields("a rainy night", None, MusicTaste()) == {}
