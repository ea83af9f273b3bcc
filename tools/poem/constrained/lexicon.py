"""The words a constrained line may be built from, and their rhymes.

English: the CMU dictionary's plain words (through `pronouncing`), so every word of a line is
one the syllable counter knows, plus the whole-word tokens of the model's vocabulary (words
the dictionary lacks; their syllables are estimated by tools/poem/prosody.py like the
checker's). Chinese: the 3,755 common characters of GB 2312's first level, so a line is never
built of rare characters a byte-level model spells by accident.
"""

from __future__ import annotations

import bisect
import functools
import re
from collections.abc import Iterable

import numpy
import pronouncing

from tools.poem import prosody

# A line ending on one of these reads as cut off.
FUNCTION_WORDS = frozenset(
    re.findall(
        r"\w+",
        "a an the and or but nor of to in on at by for with from into onto upon than my your "
        "his her its our their is are was were be been as that this these those if so whose "
        "which while when where i we he she they am",
    )
)
# A rhyme partner is written only on a word with at least this many one-syllable rhymes, so
# the lines that must rhyme with it always have an ending that fits.
MIN_RHYMES = 3
_PLAIN_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")
_ONE_LETTER_WORDS = frozenset({"a", "i", "o"})


@functools.cache
def _dictionary_words() -> tuple[str, ...]:
    pronouncing.init_cmu()
    words = {
        word
        for word, _ in pronouncing.pronunciations
        if _PLAIN_WORD.fullmatch(word) and (len(word) > 1 or word in _ONE_LETTER_WORDS)
    }
    return tuple(sorted(words))


@functools.cache
def _rhyme_index() -> dict[str, frozenset[str]]:
    """Words by rhyming part, stress dropped, as tools/poem/prosody.py compares them
    (pronouncing.rhymes searches the whole dictionary on every call)."""
    pronouncing.init_cmu()
    index: dict[str, set[str]] = {}
    for word, phones in pronouncing.pronunciations:
        key = re.sub(r"\d", "", pronouncing.rhyming_part(phones))
        index.setdefault(key, set()).add(word)
    return {key: frozenset(words) for key, words in index.items()}


def _fewest_syllables(word: str) -> int:
    phones = pronouncing.phones_for_word(word)
    if phones:
        return min(pronouncing.syllable_count(p) for p in phones)
    return min(prosody.syllable_options(word))


class EnglishWords:
    """A sorted word list: whether a text is a word, or could still become one."""

    def __init__(self, extra: Iterable[str] = (), common: Iterable[str] = ()) -> None:
        self.words = tuple(sorted(set(_dictionary_words()) | set(extra)))
        self._set = frozenset(self.words)
        self._common = frozenset(common) & self._set
        # Each word's fewest syllables, in list order: a prefix's words are one slice.
        self._fewest = numpy.array([_fewest_syllables(w) for w in self.words], dtype=numpy.int8)

    def is_word(self, word: str) -> bool:
        return word in self._set

    def can_become(self, start: str, syllables: int) -> bool:
        """Whether some word begins with `start` and can have at most `syllables`."""
        low = bisect.bisect_left(self.words, start)
        high = bisect.bisect_left(self.words, start + "{")  # "{" sorts after every letter
        return low < high and int(self._fewest[low:high].min()) <= syllables

    @functools.lru_cache(maxsize=4096)  # noqa: B019 - one instance per tokenizer, kept
    def rhymes(self, word: str) -> frozenset[str]:
        """Real rhymes of a word (by the checker's own test), itself and letters left out."""
        index = _rhyme_index()
        found = set().union(*(index.get(key, ()) for key in prosody.rhyme_keys(word)))
        return frozenset(r for r in found if r in self._set and len(r) > 1 and r != word)

    def rhymeable(self, word: str) -> bool:
        return any(self._one_syllable_rhymes(key) > MIN_RHYMES for key in prosody.rhyme_keys(word))

    @functools.lru_cache(maxsize=65536)  # noqa: B019 - one instance per tokenizer, kept
    def _one_syllable_rhymes(self, key: str) -> int:
        """Known one-syllable words of that rhyming part (a word's own counts among them,
        hence more than MIN_RHYMES above)."""
        words = _rhyme_index().get(key, frozenset())
        return sum(1 for w in words if w in self._set and 1 in prosody.syllable_options(w))

    @functools.cached_property
    def partner_endings(self) -> frozenset[str]:
        """Words a rhyme partner may end on: common (one token in the model's vocabulary),
        not function words, and rhymeable."""
        return frozenset(
            w for w in self._common if len(w) > 1 and w not in FUNCTION_WORDS and self.rhymeable(w)
        )

    @functools.lru_cache(maxsize=4096)  # noqa: B019 - one instance per tokenizer, kept
    def endings(
        self, counts: frozenset[int], window: tuple[int, int], partners: tuple[str, ...]
    ) -> frozenset[str]:
        """The words that may end a line counted `counts` so far: rhymes of every partner
        (with none, words a later line can rhyme with) that bring it into `window`."""
        if partners:
            words = frozenset.intersection(*(self.rhymes(p) for p in partners))
        else:
            words = self.partner_endings
        low, high = window
        return frozenset(
            w
            for w in words
            if any(low <= n + k <= high for n in counts for k in prosody.syllable_options(w))
        )


def some_word_begins(words: frozenset[str], start: str) -> bool:
    """Whether any of `words` begins with `start` (a bisection: a line's rhyme targets can
    be thousands of words, tried on every letter)."""
    ordered = _in_order(words)
    at = bisect.bisect_left(ordered, start)
    return at < len(ordered) and ordered[at].startswith(start)


@functools.lru_cache(maxsize=1024)
def _in_order(words: frozenset[str]) -> tuple[str, ...]:
    return tuple(sorted(words))


@functools.cache
def common_characters() -> frozenset[str]:
    """GB 2312 level 1: rows 0xB0-0xD7, the last row ending at 0xF9."""
    characters = set()
    for row in range(0xB0, 0xD8):
        for cell in range(0xA1, 0xFF):
            if row == 0xD7 and cell > 0xF9:
                break
            characters.add(bytes([row, cell]).decode("gb2312"))
    return frozenset(characters)


@functools.cache
def _character_prefixes() -> frozenset[bytes]:
    """The first one or two UTF-8 bytes of every common character (a byte-level token may
    hold only part of one)."""
    encoded = [c.encode() for c in common_characters()]
    return frozenset(e[:n] for e in encoded for n in range(1, len(e)))


def is_character_start(pending: bytes, among: frozenset[str] | None = None) -> bool:
    """Whether these bytes begin a common character (one of `among`, when given)."""
    if among is None:
        return pending in _character_prefixes()
    return pending in _prefixes_of(among)


@functools.lru_cache(maxsize=1024)
def _prefixes_of(characters: frozenset[str]) -> frozenset[bytes]:
    encoded = [c.encode() for c in characters]
    return frozenset(e[:n] for e in encoded for n in range(1, len(e)))


@functools.lru_cache(maxsize=1024)
def chinese_rhymes_of_all(partners: tuple[str, ...]) -> frozenset[str]:
    """The common characters that rhyme with every partner (none of them itself)."""
    return frozenset.intersection(*(chinese_rhymes(p) for p in partners))


@functools.lru_cache(maxsize=4096)
def chinese_rhymes(character: str) -> frozenset[str]:
    """The common characters of the same 中华新韵 group, itself left out."""
    return frozenset(
        c for c in common_characters() if c != character and prosody.chinese_rhyme(c, character)
    )


def chinese_rhymeable(character: str) -> bool:
    return len(chinese_rhymes(character)) >= MIN_RHYMES
