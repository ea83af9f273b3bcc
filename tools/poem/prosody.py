"""How lines sound: English syllables and rhymes, Chinese characters and rhyme groups.

English comes from the CMU Pronouncing Dictionary (through `pronouncing`). A word can have
several pronunciations ("fire" is one syllable or two), so a line has a set of possible
syllable counts, and two words rhyme when any of their pronunciations do. Words the
dictionary lacks get the `syllables` package's estimate and rhyme by spelled ending.
Numbers are read as words ("7" is "seven"); hyphenated words are counted part by part.

Chinese counts Han characters (punctuation is not a character of the line) and rhymes by
final through `pypinyin`, grouped as the 中华新韵 rhyme table groups them, with i/ü/-i/er
together as in the 十三辙 (a character with several readings rhymes by any of them).
"""

from __future__ import annotations

import functools
import re

import inflect
import pronouncing
import syllables
from pypinyin import Style, pinyin

# Letters with inner apostrophes ("don't", "o'er"), or a number (digits with , or . inside).
_ENGLISH_TOKEN = re.compile(r"[A-Za-z]+(?:['’][A-Za-z]+)*|\d+(?:[.,]\d+)*")
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_VOWELS_TO_END = re.compile(r"[aeiouy]+[^aeiouy]*$")
_NUMBERS = inflect.engine()

# 中华新韵's fourteen groups by pinyin final (pypinyin writes ü as v); 齐 and 支 merged.
_RHYME_GROUPS = {
    "麻": ("a", "ia", "ua"),
    "波": ("o", "e", "uo"),
    "皆": ("ie", "ve", "ue"),
    "开": ("ai", "uai"),
    "微": ("ei", "ui", "uei"),
    "豪": ("ao", "iao"),
    "尤": ("ou", "iu", "iou"),
    "寒": ("an", "ian", "uan", "van"),
    "文": ("en", "in", "un", "uen", "vn"),
    "唐": ("ang", "iang", "uang"),
    "庚": ("eng", "ing", "ong", "iong", "ueng"),
    "齐": ("i", "v", "er"),
    "姑": ("u",),
}
_GROUP_OF_FINAL = {final: group for group, finals in _RHYME_GROUPS.items() for final in finals}


# --- English ---------------------------------------------------------------------------------


def english_words(line: str) -> list[str]:
    """The spoken words of a line, numbers spelled out: "at 7, well-known" ->
    ["at", "seven", "well", "known"]."""
    words: list[str] = []
    for token in _ENGLISH_TOKEN.findall(line):
        if token[0].isdigit():
            words.extend(_ENGLISH_TOKEN.findall(_number_words(token)))
        else:
            words.append(token.replace("’", "'").lower())
    return words


def _number_words(token: str) -> str:
    return str(_NUMBERS.number_to_words(token.replace(",", ""), andword=""))


@functools.lru_cache(maxsize=65536)
def syllable_options(word: str) -> frozenset[int]:
    """Every syllable count the word can have (from its dictionary pronunciations)."""
    phones = pronouncing.phones_for_word(word)
    if phones:
        return frozenset(pronouncing.syllable_count(p) for p in phones)
    return frozenset({max(1, syllables.estimate(word))})


def line_syllable_options(line: str) -> frozenset[int]:
    """Every syllable count the line can have, given each word's options."""
    totals = frozenset({0})
    for word in english_words(line):
        totals = frozenset(t + n for t in totals for n in syllable_options(word))
    return totals


@functools.lru_cache(maxsize=65536)
def rhyme_keys(word: str) -> frozenset[str]:
    """Each dictionary pronunciation's last stressed vowel onwards, stress marks dropped;
    empty for a word the dictionary lacks."""
    phones = pronouncing.phones_for_word(word)
    return frozenset(re.sub(r"\d", "", pronouncing.rhyming_part(p)) for p in phones)


def spelled_ending(word: str) -> str:
    """The spelling from the last vowel group onwards: "glimmerous" -> "ous"."""
    found = _VOWELS_TO_END.search(word.lower())
    return found.group(0) if found else word.lower()


def last_english_word(line: str) -> str | None:
    words = english_words(line)
    return words[-1] if words else None


def english_rhyme(a: str, b: str) -> bool:
    """By sound when the dictionary knows both words, else by spelled ending."""
    keys_a, keys_b = rhyme_keys(a), rhyme_keys(b)
    if keys_a and keys_b:
        return bool(keys_a & keys_b)
    return spelled_ending(a) == spelled_ending(b)


# --- Chinese ---------------------------------------------------------------------------------


def han_characters(line: str) -> list[str]:
    return _HAN.findall(line)


@functools.lru_cache(maxsize=65536)
def rhyme_groups(character: str) -> frozenset[str]:
    """The 中华新韵 groups of every reading of a character (a final outside the table is
    its own group)."""
    readings = pinyin(character, style=Style.FINALS, heteronym=True, strict=False)[0]
    return frozenset(_GROUP_OF_FINAL.get(final, final) for final in readings if final)


def last_han_character(line: str) -> str | None:
    characters = han_characters(line)
    return characters[-1] if characters else None


def chinese_rhyme(a: str, b: str) -> bool:
    return bool(rhyme_groups(a) & rhyme_groups(b))


def is_chinese(text: str, share: float = 0.3) -> bool:
    """Whether a text is mostly Chinese: Han characters are at least `share` of its letters."""
    letters = [c for c in text if c.isalpha()]
    return bool(letters) and len(han_characters(text)) >= share * len(letters)


def content_lines(text: str) -> list[str]:
    """An English poem's lines: stripped, blank lines (stanza breaks) dropped."""
    return [line.strip() for line in text.splitlines() if line.strip()]


def chinese_verse_lines(text: str) -> list[str]:
    """A Chinese poem's verse lines. Couplets are often written two to a line
    ("床前明月光，疑是地上霜。"), so clause punctuation ends a verse line as a line break does."""
    pieces = re.split(r"[\n，。！？；,.!?;]+", text)
    return [piece.strip() for piece in pieces if han_characters(piece)]
