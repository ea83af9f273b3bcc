"""The form checker on hand-written poems, right and wrong, in English and Chinese.

People who count syllables judge these poems: a haiku that is not 5-7-5 must be caught, and
one that is must not be refused because of a number, a hyphen or a word the dictionary lacks.
"""

from __future__ import annotations

import pytest

from tools.poem.forms import FORMS, UnknownForm, check, find_form
from tools.poem.prosody import english_words, line_syllable_options, syllable_options

SONNET_130 = """My mistress' eyes are nothing like the sun;
Coral is far more red than her lips' red;
If snow be white, why then her breasts are dun;
If hairs be wires, black wires grow on her head.

I have seen roses damask'd, red and white,
But no such roses see I in her cheeks;
And in some perfumes is there more delight
Than in the breath that from my mistress reeks.

I love to hear her speak, yet well I know
That music hath a far more pleasing sound;
I grant I never saw a goddess go;
My mistress, when she walks, treads on the ground:

And yet, by heaven, I think my love as rare
As any she belied with false compare."""

MET = [
    (
        "haiku",
        "An old silent pond\nA frog jumps into the pond—\nSplash! Silence again.",
        "haiku 5-7-5 ✓",
    ),
    # Hyphenated words count part by part; a number is read as words ("7" is "seven").
    ("haiku", "Twenty-one swallows\ndip over the well-kept lawn\nat 7 they rest.", "haiku 5-7-5 ✓"),
    # "glorbulous" is in no dictionary: the estimator gives it three syllables.
    (
        "haiku",
        "the glorbulous moon\nclimbs above the snowy hill\nand night goes quiet",
        "haiku 5-7-5 ✓",
    ),
    (
        "tanka",
        "Morning light arrives\nover the sleeping harbor\ngulls begin their cries\n"
        "and I remember your voice\ncalling me home from the sea",
        "tanka 5-7-5-7-7 ✓",
    ),
    (
        "limerick",
        "There once was a man from Peru\nWho dreamed he was eating his shoe\n"
        "He woke with a fright\nIn the middle of night\nTo find that his dream had come true",
        "limerick 8-8-5-6-8 AABBA ✓",
    ),
    (
        "quatrain",
        "The night is deep and still,\nthe stars are cold and bright;\nI climb the silent hill\n"
        "and wander in the light.",
        "quatrain ABAB ✓",
    ),
    (
        "quatrain",
        "I saw a cat\nupon a mat;\nit looked at me,\nthen climbed a tree.",
        "quatrain AABB ✓",
    ),
    ("sonnet", SONNET_130, "sonnet 14 lines of 10-11 syllables, ABABCDCDEFEFGG ✓"),
    ("free verse", "the river\nat night\ncarries the lamps away", "free verse 3 lines ✓"),
    (
        "五言绝句",
        "床前明月光，疑是地上霜。\n举头望明月，低头思故乡。",
        "五言绝句 5-5-5-5 rhyme 2·4 ✓",
    ),
    ("wujue", "白日依山尽\n黄河入海流\n欲穷千里目\n更上一层楼", "五言绝句 5-5-5-5 rhyme 2·4 ✓"),
    (
        "七言绝句",
        "朝辞白帝彩云间，千里江陵一日还。两岸猿声啼不住，轻舟已过万重山。",
        "七言绝句 7-7-7-7 rhyme 2·4 ✓",
    ),
    (
        "五言律诗",
        "空山新雨后，天气晚来秋。明月松间照，清泉石上流。\n"
        "竹喧归浣女，莲动下渔舟。随意春芳歇，王孙自可留。",
        "五言律诗 8 lines of 5 characters, rhyme 2·4·6·8 ✓",
    ),
    (
        "七言律诗",
        "相见时难别亦难，东风无力百花残。\n春蚕到死丝方尽，蜡炬成灰泪始干。\n"
        "晓镜但愁云鬓改，夜吟应觉月光寒。\n蓬山此去无多路，青鸟殷勤为探看。",
        "七言律诗 8 lines of 7 characters, rhyme 2·4·6·8 ✓",
    ),
    ("free verse", "河流\n在夜里\n慢慢地流", "free verse 3 lines ✓"),
]

MISSED = [
    (
        "haiku",
        "An old silent pond\nA frog jumps into the cold pond\nSplash! Silence again.",
        "haiku: line 2 has 8 syllables, wanted 7",
    ),
    ("haiku", "An old silent pond\nA frog jumps into the pond", "haiku: has 2 lines, wanted 3"),
    # 1999 is "one thousand nine hundred ninety-nine": nine syllables, not four characters.
    (
        "haiku",
        "In 1999\nthe snow fell on every roof\nand nobody woke",
        "haiku: line 1 has 10 syllables, wanted 5",
    ),
    (
        "tanka",
        "Morning light arrives\nover the sleeping harbor\ngulls begin their cries\n"
        "and I remember your voice",
        "tanka: has 4 lines, wanted 5",
    ),
    (
        "limerick",
        "There once was a man from Peru\nWho dreamed he was eating his shoe\n"
        "He woke with a fright\nIn the middle of night\nTo find that his dream was real",
        "limerick: lines 1 and 5 should rhyme (peru / real)",
    ),
    (
        "quatrain",
        "I saw a cat\nbeside the door;\nit looked at me,\nthen climbed a tree.",
        "quatrain: lines 1 and 2 should rhyme (cat / door)",
    ),
    (
        "sonnet",
        SONNET_130.replace(
            "As any she belied with false compare.", "As any she belied with false words."
        ),
        "sonnet: lines 13 and 14 should rhyme (rare / words)",
    ),
    ("free verse", "one line alone", "free verse: has 1 line, wanted 2-40"),
    # Saying a line again, or rhyming a word with itself, is not meeting a form.
    (
        "haiku",
        "An old silent pond\nA frog jumps into the pond—\nAn old silent pond!",
        "haiku: line 3 repeats line 1",
    ),
    (
        "quatrain",
        "The night is deep and still,\nthe stars are cold and bright;\nI climb the silent hill\n"
        "and wander in the bright.",
        "quatrain: lines 2 and 4 end on the same word (bright)",
    ),
    (
        "五言绝句",
        "床前明月光，疑是地上霜。\n举头望明月，低头见白霜。",
        "五言绝句: lines 2 and 4 end on the same character (霜)",
    ),
    (
        "五言绝句",
        "床前明月光光，疑是地上霜。\n举头望明月，低头思故乡。",
        "五言绝句: line 1 has 6 characters, wanted 5",
    ),
    (
        "五言绝句",
        "床前明月光，疑是地上霜。\n举头望明月，低头思故家。",
        "五言绝句: lines 2 and 4 should rhyme (霜 / 家)",
    ),
    (
        "七言绝句",
        "朝辞白帝彩云间，千里江陵一日还。两岸猿声啼不住，轻舟已过万重。",
        "七言绝句: line 4 has 6 characters, wanted 7 (and 1 more)",
    ),
    (
        "五言律诗",
        "空山新雨后，天气晚来秋。明月松间照，清泉石上流。",
        "五言律诗: has 4 lines, wanted 8",
    ),
    (
        "七言律诗",
        "相见时难别亦难，东风无力百花残。\n春蚕到死丝方尽，蜡炬成灰泪始干。\n"
        "晓镜但愁云鬓改，夜吟应觉月光寒。\n蓬山此去无多路，青鸟殷勤为探望。",
        "七言律诗: lines 2 and 8 should rhyme (残 / 望)",
    ),
]


@pytest.mark.parametrize(("form", "poem", "summary"), MET)
def test_a_poem_that_meets_its_form_is_confirmed(form: str, poem: str, summary: str) -> None:
    result = check(poem, find_form(form))
    assert result.problems == ()
    assert result.summary() == summary
    assert result.score == 1.0


@pytest.mark.parametrize(("form", "poem", "summary"), MISSED)
def test_a_poem_that_misses_its_form_is_never_claimed(form: str, poem: str, summary: str) -> None:
    result = check(poem, find_form(form))
    assert not result.ok and "✓" not in result.summary()
    assert result.summary() == summary
    assert result.score < 1.0


def test_every_form_has_a_right_and_a_wrong_example() -> None:
    def covered(cases: list[tuple[str, str, str]]) -> set[str]:
        return {find_form(form).name for form, _, _ in cases}

    assert covered(MET) == set(FORMS) == covered(MISSED)


def test_the_failing_lines_are_the_ones_to_repair() -> None:
    result = check(
        "An old silent pond\nA frog jumps into the cold pond\nSplash!", find_form("haiku")
    )
    assert result.failing_lines == (2, 3)


def test_words_are_read_as_spoken() -> None:
    assert english_words("At 7, the well-known o'er—don’t!") == [
        "at",
        "seven",
        "the",
        "well",
        "known",
        "o'er",
        "don't",
    ]
    assert syllable_options("fire") == {1, 2}  # either is right; the checker allows both
    assert line_syllable_options("every fire") == {3, 4, 5}
    assert line_syllable_options("...!") == {0}


@pytest.mark.parametrize("name", ["villanelle", "", "ghazal"])
def test_an_unknown_form_lists_the_known_ones(name: str) -> None:
    with pytest.raises(UnknownForm) as raised:
        find_form(name)
    assert "haiku" in str(raised.value) and "五言绝句" in str(raised.value)


@pytest.mark.parametrize(
    ("typed", "name"),
    [("Haiku", "haiku"), ("free  verse", "free verse"), ("七言律诗", "qilv"), ("jueju", "wujue")],
)
def test_forms_are_found_as_people_type_them(typed: str, name: str) -> None:
    assert find_form(typed).name == name


# --- 平仄: measured, enforced only when strict -------------------------------------------------

STORK_TOWER = "白日依山尽，黄河入海流。欲穷千里目，更上一层楼。"


def test_a_chinese_form_reports_its_tone_pattern_without_failing_on_it() -> None:
    off_tone = STORK_TOWER.replace("流", "路")  # 路 is oblique where the pattern wants 平
    result = check(off_tone, FORMS["wujue"])
    assert result.tones is not None and result.tones.pattern.name == "仄起首句不入韵"
    assert result.tones.summary().endswith("12/13 (line 2 character 5 (路) should be 平)")
    assert not any("should be 平" in problem for problem in result.problems)
    assert check(STORK_TOWER, FORMS["wujue"]).tones.ok  # type: ignore[union-attr]
    assert check("An old silent pond\nA frog jumps in\nSplash!", FORMS["haiku"]).tones is None


def test_strict_tones_make_a_missed_tone_a_problem_of_its_line() -> None:
    off_tone = STORK_TOWER.replace("河", "路")
    result = check(off_tone, FORMS["wujue"], strict_tones=True)
    assert "line 2 character 2 (路) should be 平" in result.problems
    assert result.failing_lines == (2,)
    assert check(STORK_TOWER, FORMS["wujue"], strict_tones=True).ok
