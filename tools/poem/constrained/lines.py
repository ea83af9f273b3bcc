"""One line being written, as a state that takes text and says whether the line is still
inside its form: `feed` returns the next state or None (the text breaks the form), `end`
returns the finished line or None (it may not end here).

English counts syllables by the checker's own functions (tools/poem/prosody.py) over whole
words; the word being spelt counts at least one syllable until a space or punctuation closes
it, and it must stay the start of a real word. Chinese counts common Han characters, bytes of
a character not yet complete held apart.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field, replace

from tools.poem import prosody
from tools.poem.constrained import lexicon
from tools.poem.constrained.lexicon import EnglishWords

# English lines: enter the rhyme (the last word must be one) with at most this many
# syllables left, so a line's end is chosen among rhymes that fit what is left.
RHYME_ROOM = 2
_PUNCTUATION = frozenset(",;:.!?")
Bounds = tuple[int, int]


@dataclass(frozen=True)
class LineRule:
    """What the line must be: its count, the line ends it must rhyme with, whether later
    lines will rhyme with it, the lines it must not repeat, and (strict Chinese forms) the
    tone each character must have."""

    window: Bounds
    partners: tuple[str, ...] = ()
    anchor: bool = False
    taken: frozenset[str] = frozenset()
    tones: tuple[str | None, ...] = ()  # per character: "ping", "ze" or None (either)


def line_key(line: str) -> str:
    """A line as the checker compares lines for repeats."""
    return " ".join(re.findall(r"\w+", line.lower()))


@dataclass(frozen=True)
class EnglishLine:
    rule: LineRule
    words_known: EnglishWords
    text: str = ""
    counts: frozenset[int] = frozenset({0})
    words: tuple[str, ...] = ()
    partial: str = ""
    after_punctuation: bool = False
    targets: frozenset[str] | None = None  # the rhymes the last word must be one of
    # The state after each character tried from here: a state is frozen, so its step on a
    # character is always the same, and the many tokens that share a start (" gl", " glow",
    # " glimmer") walk it once. Dropped with the state (nothing points back at a parent).
    _after: dict[str, EnglishLine | None] = field(
        default_factory=dict, init=False, compare=False, repr=False
    )

    def feed(self, text: str) -> EnglishLine | None:
        state = self
        for character in text:
            after = state._after
            if character in after:
                step = after[character]
            else:
                step = after[character] = state._char(character)
            if step is None:
                return None
            state = step
        return state

    def end(self) -> str | None:
        return self._ending

    @functools.cached_property
    def _ending(self) -> str | None:
        state = self._closed() if self.partial else self
        if state is None or not state.words:
            return None
        low, high = state.rule.window
        last = state.words[-1]
        if not any(low <= n <= high for n in state.counts) or last in lexicon.FUNCTION_WORDS:
            return None
        if not all(prosody.english_rhyme(p, last) and p != last for p in state.rule.partners):
            return None
        if state.rule.anchor and not self.words_known.rhymeable(last):
            return None
        line = state.text.strip()
        return None if line_key(line) in state.rule.taken else line

    def _char(self, character: str) -> EnglishLine | None:
        if character.isascii() and (character.isalpha() or (character == "'" and self.partial)):
            return self._letter(character)
        if character == " ":
            return self._space()
        if character in _PUNCTUATION and self.partial and self.targets is None:
            closed = self._closed()
            return (
                None
                if closed is None
                else replace(closed, text=closed.text + character, after_punctuation=True)
            )
        return None

    def _letter(self, character: str) -> EnglishLine | None:
        room = self.rule.window[1] - min(self.counts)
        if self.targets is None and (self.rule.partners or self.rule.anchor):
            room -= 1  # a free word leaves at least a syllable for the rhyme to come
        if self.after_punctuation or room < 1:
            return None
        partial = self.partial + character
        if partial[1:] != partial[1:].lower():  # "Rain", "rain"; never "rAin"
            return None
        spelt = partial.lower()
        if self.targets is not None:
            fits = lexicon.some_word_begins(self.targets, spelt)
        else:
            fits = self.words_known.can_become(spelt, room)
        return replace(self, text=self.text + character, partial=partial) if fits else None

    def _space(self) -> EnglishLine | None:
        if self.targets is not None or (self.text and self.text[-1] == " "):
            return None  # the rhyme ends the line; no double spaces
        state = self._closed() if self.partial else self
        if state is None:
            return None
        state = replace(state, text=state.text + " ", after_punctuation=False)
        return state._entering_rhyme() if state.words else state

    def _closed(self) -> EnglishLine | None:
        """The word being spelt, closed: it must be a word, fit the count, and leave the line
        a way to end."""
        word = self.partial.lower()
        known = word in self.targets if self.targets is not None else self.words_known.is_word(word)
        if not known:
            return None
        counts = frozenset(n + k for n in self.counts for k in prosody.syllable_options(word))
        low, high = self.rule.window
        if min(counts) > high:
            return None
        state = replace(self, counts=counts, words=(*self.words, word), partial="")
        room_for_more = min(counts) + 1 <= high
        return state if room_for_more or state.end() is not None else None

    def _entering_rhyme(self) -> EnglishLine:
        """With little room left on a line that must rhyme, only a fitting rhyme may follow
        (on a rhyme partner, a word later lines can rhyme with)."""
        rule = self.rule
        if rule.window[1] - min(self.counts) > RHYME_ROOM or not (rule.partners or rule.anchor):
            return self
        fitting = self.words_known.endings(self.counts, rule.window, rule.partners)
        return replace(self, targets=fitting) if fitting else self


@dataclass(frozen=True)
class ChineseLine:
    rule: LineRule
    characters: str = ""
    pending: bytes = b""  # the start of a character a token spelt only part of
    tone_of: object = None  # a callable character -> "ping" / "ze" / None, in strict mode
    # The state after each piece tried from here (as EnglishLine._after).
    _after: dict[bytes, ChineseLine | None] = field(
        default_factory=dict, init=False, compare=False, repr=False
    )

    def feed(self, piece: bytes) -> ChineseLine | None:
        if piece not in self._after:
            self._after[piece] = self._fed(piece)
        return self._after[piece]

    def _fed(self, piece: bytes) -> ChineseLine | None:
        pending = self.pending + piece
        state = self
        while pending:
            if len(pending) < 3:
                if len(state.characters) >= self.rule.window[1]:
                    return None
                allowed = state._allowed_next()
                return (
                    replace(state, pending=pending)
                    if lexicon.is_character_start(pending, allowed)
                    else None
                )
            try:
                character = pending[:3].decode()
            except UnicodeDecodeError:
                return None
            pending = pending[3:]
            next_state = state._add(character)
            if next_state is None:
                return None
            state = next_state
        return replace(state, pending=b"")

    def end(self) -> str | None:
        low, high = self.rule.window
        count = len(self.characters)
        if self.pending or not low <= count <= high:
            return None
        if self.rule.partners and count != high:
            return None
        last = self.characters[-1]
        if not all(prosody.chinese_rhyme(p, last) and p != last for p in self.rule.partners):
            return None
        if self.rule.anchor and not lexicon.chinese_rhymeable(last):
            return None
        return None if line_key(self.characters) in self.rule.taken else self.characters

    def _allowed_next(self) -> frozenset[str] | None:
        """The characters the next one must be among here: a rhyme at a rhyming line's last
        place (None: any common character)."""
        if self.rule.partners and len(self.characters) == self.rule.window[1] - 1:
            return lexicon.chinese_rhymes_of_all(self.rule.partners)
        return None

    def _add(self, character: str) -> ChineseLine | None:
        allowed = self._allowed_next()
        if character not in (allowed if allowed is not None else lexicon.common_characters()):
            return None
        if len(self.characters) + 1 > self.rule.window[1] or not self._tone_fits(character):
            return None
        return replace(self, characters=self.characters + character)

    def _tone_fits(self, character: str) -> bool:
        position = len(self.characters)
        wanted = self.rule.tones[position] if position < len(self.rule.tones) else None
        if wanted is None or self.tone_of is None:
            return True
        return wanted in self.tone_of(character)  # type: ignore[operator]
