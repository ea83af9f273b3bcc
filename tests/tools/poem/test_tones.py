"""平仄: each character's tone classes, the standard patterns of 绝句 and 律诗, and famous
regulated poems measured as keeping them, with a changed character found at its place."""

from __future__ import annotations

import pytest

from tools.poem import prosody
from tools.poem.tones import (
    ToneMiss,
    fits,
    line_pattern,
    measure,
    patterns,
    patterns_for_form,
    tone_classes,
)

# 王之涣《登鹳雀楼》, 五言绝句, 仄起首句不入韵.
STORK_TOWER = "白日依山尽，黄河入海流。欲穷千里目，更上一层楼。"
# 杜甫《绝句》, 七言绝句, 仄起首句不入韵.
ORIOLES = "两个黄鹂鸣翠柳，一行白鹭上青天。窗含西岭千秋雪，门泊东吴万里船。"
# 杜甫《春望》, 五言律诗, 仄起首句不入韵.
SPRING_VIEW = (
    "国破山河在，城春草木深。感时花溅泪，恨别鸟惊心。"
    "烽火连三月，家书抵万金。白头搔更短，浑欲不胜簪。"
)


def lines(poem: str) -> list[str]:
    return prosody.chinese_verse_lines(poem)


@pytest.mark.parametrize(
    ("character", "classes"),
    [("天", {"平"}), ("流", {"平"}), ("月", {"仄"}), ("海", {"仄"}), ("行", {"平", "仄"})],
)
def test_a_characters_tone_classes_come_from_all_its_readings(
    character: str, classes: set[str]
) -> None:
    assert tone_classes(character) == classes


def test_a_character_without_a_tone_class_is_not_held_against_a_pattern() -> None:
    assert tone_classes("a") == frozenset() and tone_classes("，") == frozenset()
    assert fits("a", "平") and fits("月", "中") and not fits("月", "平")


def test_the_four_five_character_line_types_with_their_free_positions() -> None:
    assert [line_pattern(kind, 5) for kind in "ABCD"] == [
        "中仄中平仄",
        "平平中仄平",  # the first level tone stays: 仄平仄仄平 would be 孤平
        "中平中仄仄",
        "中仄中平平",
    ]
    # Seven characters: two of the opposite tone before the five, and the fifth free too.
    assert line_pattern("A", 7) == "中平中仄中平仄"
    assert line_pattern("B", 7) == "中仄平平中仄平"


def test_each_regulated_form_has_four_patterns_and_every_rhyme_line_ends_level() -> None:
    for form in ("wujue", "qijue", "wulv", "qilv"):
        found = patterns_for_form(form)
        assert len(found) == 4
        for pattern in found:
            assert all(line[-1] == "平" for line in pattern.lines[1::2])
            first_rhymes = pattern.name.endswith("首句入韵")
            assert (pattern.lines[0][-1] == "平") is first_rhymes
    assert [p.name for p in patterns(5, 4)] == [
        "仄起首句不入韵",
        "仄起首句入韵",
        "平起首句不入韵",
        "平起首句入韵",
    ]
    assert patterns_for_form("haiku") == ()


@pytest.mark.parametrize(
    ("poem", "form", "pattern"),
    [
        (STORK_TOWER, "wujue", "仄起首句不入韵"),
        (ORIOLES, "qijue", "仄起首句不入韵"),
        (SPRING_VIEW, "wulv", "仄起首句不入韵"),
    ],
)
def test_famous_regulated_poems_keep_their_pattern(poem: str, form: str, pattern: str) -> None:
    measured = measure(lines(poem), form)
    assert measured is not None
    assert measured.pattern.name == pattern
    assert measured.ok and measured.checked > 0
    assert measured.summary() == f"平仄 {pattern} ✓"


def test_a_changed_character_is_found_at_its_line_and_position() -> None:
    # 流 (liú, level) ends the rhyme line; 路 (lù) is oblique.
    measured = measure(lines(STORK_TOWER.replace("流", "路")), "wujue")
    assert measured is not None and not measured.ok
    assert measured.misses == (ToneMiss(2, 5, "路", "平"),)
    assert measured.summary() == "平仄 仄起首句不入韵 12/13 (line 2 character 5 (路) should be 平)"
    assert measured.as_params()["tone_misses"] == [[2, 5, "路", "平"]]


def test_free_positions_take_either_tone_but_not_where_it_would_be_gu_ping() -> None:
    # Line 1's first character is free: 白 (level) for 月 (oblique) changes nothing.
    assert measure(lines(STORK_TOWER.replace("白", "月")), "wujue").ok  # type: ignore[union-attr]
    # Line 2 is 平平仄仄平: an oblique first character would leave 流 the lone level tone.
    measured = measure(lines(STORK_TOWER.replace("黄河", "大河")), "wujue")
    assert measured is not None
    assert measured.misses == (ToneMiss(2, 1, "大", "平"),)


def test_a_line_of_the_wrong_length_is_left_to_the_count_check() -> None:
    measured = measure(lines("白日依山尽，黄河入海流水。欲穷千里目，更上一层楼。"), "wujue")
    assert measured is not None
    assert measured.ok and measured.checked == 9  # line 2's four fixed positions skipped
    assert measure(["a haiku line"], "haiku") is None
