"""One candidate poem being written: the lines so far, the line being written, and which
tokens may come next.

A token is tried against the line's state (lines.py): the newline token ends the line (when
it may end), any other token's text must keep the line inside its form. Besides the model's
likeliest tokens, the tokens that spell a fitting rhyme (and the newline) are always tried,
so a line that must rhyme can reach a rhyme the model would not have put in its top few.

Speed without loosening anything: a token outside the vocabulary's English or Han set
(tokens.py) is refused before any state is fed, each token's result is kept until the row
moves on (allows() then take() feed once), and the rhyme's token ids are found once per set
of rhymes.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy

from tools.poem.constrained.lexicon import EnglishWords
from tools.poem.constrained.lines import ChineseLine, EnglishLine
from tools.poem.constrained.spec import PoemSpec
from tools.poem.constrained.tokens import ENGLISH_CHARACTERS, TokenTable

LineState = EnglishLine | ChineseLine
ToneOf = Callable[[str], Any] | None


@dataclass
class Row:
    spec: PoemSpec
    table: TokenTable
    words: EnglishWords
    tone_of: ToneOf = None
    lines: dict[int, str] = field(default_factory=dict)
    stuck: bool = False
    _queue: list[int] = field(default_factory=list)
    _line: LineState | None = None
    _tried: dict[int, LineState | str | None] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.lines = {i: s.text for i, s in enumerate(self.spec.slots) if s.text is not None}
        self._queue = list(self.spec.to_write())
        self._start_line()

    @property
    def done(self) -> bool:
        return self.stuck or self._line is None

    @property
    def written(self) -> int:
        """Lines this row has written so far."""
        return len(self.spec.to_write()) - len(self._queue)

    def poem(self) -> str:
        return "\n".join(self.lines[i] for i in sorted(self.lines))

    def allows(self, token_id: int) -> bool:
        tried = self._tried
        if token_id not in tried:
            tried[token_id] = self._after(token_id)
        return tried[token_id] is not None

    def line_candidates(self) -> numpy.ndarray:
        """The ids of the tokens that could go on with the line here: of its script, and
        beginning with a character (a byte) the line takes now. Every token allows() accepts
        is among them, but the newline (extra_candidates() always offers it)."""
        line, table = self._line, self.table
        fits = numpy.zeros(256, dtype=bool)
        if isinstance(line, ChineseLine):
            for byte in range(0x80, 0x100):
                fits[byte] = line.feed(bytes([byte])) is not None
            return table.han_ids[fits[table.han_heads]]
        if isinstance(line, EnglishLine):
            for character in ENGLISH_CHARACTERS:
                fits[ord(character)] = line.feed(character) is not None
            return table.english_ids[fits[table.english_heads]]
        return table.english_ids[:0]

    def take(self, token_id: int) -> None:
        after = self._tried[token_id] if token_id in self._tried else self._after(token_id)
        assert after is not None, "take() only a token allows() accepted"
        self._tried = {}
        if isinstance(after, str):
            self.lines[self._queue.pop(0)] = after
            self._start_line()
        else:
            self._line = after

    def extra_candidates(self) -> list[int]:
        """The newline, and the tokens that continue spelling a fitting rhyme, in id order."""
        found = {self.table.newline}
        line = self._line
        if isinstance(line, EnglishLine):
            found |= _english_rhyme_ids(self.table, line)
        elif isinstance(line, ChineseLine):
            allowed = line._allowed_next()
            if allowed is not None:
                found |= _chinese_rhyme_ids(self.table, allowed, line.pending)
        return sorted(found)

    def _after(self, token_id: int) -> LineState | str | None:
        """The line's next state after the token, the finished line for a newline, or None."""
        line = self._line
        table = self.table
        if line is None or token_id in table.special:
            return None
        piece = table.pieces[token_id]
        if piece == b"\n":
            return line.end()
        if isinstance(line, ChineseLine):
            return line.feed(piece) if token_id in table.han else None
        text = table.texts[token_id]
        return line.feed(text) if text is not None and token_id in table.english else None

    def _start_line(self) -> None:
        if not self._queue:
            self._line = None
            return
        rule = self.spec.rule(self._queue[0], self.lines)
        if self.spec.lang == "zh":
            self._line = ChineseLine(rule, tone_of=self.tone_of)
        else:
            self._line = EnglishLine(rule, self.words)


def _english_rhyme_ids(table: TokenTable, line: EnglishLine) -> frozenset[int]:
    """The tokens that would spell on towards a fitting rhyme from here."""
    if line.targets is not None:
        return _spelling_ids(table, line.targets, line.partial.lower(), "")
    if not line.partial and not line.after_punctuation:
        return frozenset()
    entered = line.feed(" ")
    if entered is None or entered.targets is None:
        return frozenset()
    return _spelling_ids(table, entered.targets, "", " ")


@functools.lru_cache(maxsize=4096)
def _spelling_ids(
    table: TokenTable, targets: frozenset[str], spelt: str, before: str
) -> frozenset[int]:
    """Tokens spelling `before` and then more of a target that begins with `spelt`."""
    rest = [t[len(spelt) :] for t in targets if t.startswith(spelt)]
    return _ids(table, ((before + r[:n]).encode() for r in rest for n in range(1, len(r) + 1)))


@functools.lru_cache(maxsize=4096)
def _chinese_rhyme_ids(
    table: TokenTable, allowed: frozenset[str], pending: bytes
) -> frozenset[int]:
    """Tokens spelling more of one of the `allowed` characters after the `pending` bytes."""
    encoded = (c.encode() for c in allowed)
    return _ids(
        table,
        (
            e[len(pending) : n]
            for e in encoded
            if e.startswith(pending)
            for n in range(len(pending) + 1, len(e) + 1)
        ),
    )


def _ids(table: TokenTable, pieces: Iterable[bytes]) -> frozenset[int]:
    by_piece = table.by_piece
    return frozenset(by_piece[p] for p in pieces if p in by_piece)
