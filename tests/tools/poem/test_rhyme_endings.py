"""Endings chosen among real rhymes: every line offered rhymes and fits the line's count."""

from __future__ import annotations

from tools.models.text import LoadedCausalLM
from tools.poem import prosody
from tools.poem.rhyme_endings import rhymed_lines

ASK = [{"role": "user", "content": "Write line 2 of a limerick about a heron."}]


def test_every_offered_ending_rhymes_and_fits_the_syllables(tiny_chat: LoadedCausalLM) -> None:
    drafts = ["a heron stood still in the water", "it waited for fish all day long"]
    lines = rhymed_lines(tiny_chat, ASK, drafts, "rain", (7, 9), "en")
    assert lines, "the tokenizer knows common rhymes of 'rain' (again, brain, chain ...)"
    for line in lines:
        last = prosody.last_english_word(line)
        assert last != "rain" and prosody.english_rhyme(last or "", "rain"), line
        assert any(7 <= n <= 9 for n in prosody.line_syllable_options(line)), line
        assert any(line.startswith(" ".join(d.split()[:2])) for d in drafts), line


def test_letters_and_names_are_not_offered_as_rhymes(tiny_chat: LoadedCausalLM) -> None:
    lines = rhymed_lines(tiny_chat, ASK, ["the heron flew off to be free"], "free", None, "en")
    assert all(len(prosody.last_english_word(line) or "") > 1 for line in lines)


def test_a_chinese_line_ends_on_a_character_of_the_same_rhyme_group(
    tiny_chat: LoadedCausalLM,
) -> None:
    lines = rhymed_lines(tiny_chat, ASK, ["白日依山尽头"], "光", (5, 5), "zh")
    assert lines, "the tokenizer has common characters rhyming with 光 (上, 方, 长 ...)"
    for line in lines:
        assert len(prosody.han_characters(line)) == 5, line
        assert prosody.chinese_rhyme(line[-1], "光") and line[-1] != "光", line


def test_nothing_is_offered_for_a_word_without_known_rhymes(tiny_chat: LoadedCausalLM) -> None:
    assert rhymed_lines(tiny_chat, ASK, ["a line"], "orange", (5, 9), "en") == []
