"""A poem's grounds show its 平仄 measurement and the topic score the poem tool kept."""

from __future__ import annotations

from tools.contract import ArtifactKind
from tools.critique.grounds import poem_grounds
from tools.critique.subject import Subject

STORK_TOWER = "白日依山尽，黄河入海流。\n欲穷千里目，更上一层楼。"


def test_a_chinese_poem_shows_its_tone_pattern_among_its_measurements() -> None:
    grounds = poem_grounds(
        Subject(ArtifactKind.POEM, 3, "登楼", text=STORK_TOWER, params={"form": "wujue"})
    )
    assert grounds.measurements["tone_pattern"] == "仄起首句不入韵"
    assert grounds.measurements["tones_kept"] == "13/13"
    assert any(line.startswith("tones: 平仄 仄起首句不入韵 ✓") for line in grounds.lines)
    assert "平仄 仄起首句不入韵 ✓" in grounds.evidence["technique"]


def test_the_topic_score_kept_with_the_poem_is_shown() -> None:
    params = {"form": "haiku", "topic": 0.61, "topic_model": "bundled:minilm", "topic_note": None}
    poem = "grey wings in the rain\nthe heron waits by the reeds\nstill as the cold stone"
    grounds = poem_grounds(Subject(ArtifactKind.POEM, 4, "a heron in the rain", poem, None, params))
    assert grounds.measurements["topic"] == 0.61
    assert any(line.startswith("topic score 0.61 (close;") for line in grounds.lines)
    assert "tone_pattern" not in grounds.measurements  # English has no 平仄


def test_a_poem_without_a_topic_score_shows_none() -> None:
    grounds = poem_grounds(Subject(ArtifactKind.POEM, None, None, text="one line\nand two"))
    assert "topic" not in grounds.measurements
    assert not any("topic score" in line for line in grounds.lines)
