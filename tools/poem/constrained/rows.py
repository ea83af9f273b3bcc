"""One candidate poem being written: the lines so far, the line being written, and which
tokens may come next.

A token is tried against the line's state (lines.py): the newline token ends the line (when
it may end), any other token's text must keep the line inside its form. Besides the model's
likeliest tokens, the tokens that spell a fitting rhyme (and the newline) are always tried,
so a line that must rhyme can reach a rhyme the model would not have put in its top few.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from tools.poem.constrained.lexicon import EnglishWords
from tools.poem.constrained.lines import ChineseLine, EnglishLine
from tools.poem.constrained.spec import PoemSpec
from tools.poem.constrained.tokens import TokenTable

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
        return self._after(token_id) is not None

    def take(self, token_id: int) -> None:
        after = self._after(token_id)
        assert after is not None, "take() only a token allows() accepted"
        if isinstance(after, str):
            self.lines[self._queue.pop(0)] = after
            self._start_line()
        else:
            self._line = after

    def extra_candidates(self) -> set[int]:
        """The newline, and the tokens that continue spelling a fitting rhyme."""
        found = {self.table.newline}
        line = self._line
        if isinstance(line, EnglishLine):
            found |= self._ids(_english_rhyme_pieces(line))
        elif isinstance(line, ChineseLine):
            allowed = line._allowed_next()
            if allowed is not None:
                encoded = (c.encode() for c in allowed)
                found |= self._ids(
                    e[len(line.pending) : n]
                    for e in encoded
                    if e.startswith(line.pending)
                    for n in range(len(line.pending) + 1, len(e) + 1)
                )
        return found

    def _ids(self, pieces: Iterable[bytes]) -> set[int]:
        by_piece = self.table.by_piece
        return {by_piece[p] for p in pieces if p in by_piece}

    def _after(self, token_id: int) -> LineState | str | None:
        """The line's next state after the token, the finished line for a newline, or None."""
        line = self._line
        if line is None or token_id in self.table.special:
            return None
        piece = self.table.pieces[token_id]
        if piece == b"\n":
            return line.end()
        if not piece or b"\n" in piece:
            return None
        if isinstance(line, ChineseLine):
            return line.feed(piece)
        try:
            return line.feed(piece.decode())
        except UnicodeDecodeError:
            return None

    def _start_line(self) -> None:
        if not self._queue:
            self._line = None
            return
        rule = self.spec.rule(self._queue[0], self.lines)
        if self.spec.lang == "zh":
            self._line = ChineseLine(rule, tone_of=self.tone_of)
        else:
            self._line = EnglishLine(rule, self.words)


def _english_rhyme_pieces(line: EnglishLine) -> list[bytes]:
    """The texts that would spell on towards a fitting rhyme from here."""
    if line.targets is not None:
        spelt = line.partial.lower()
        rest = [t[len(spelt) :] for t in line.targets if t.startswith(spelt)]
        return [r[:n].encode() for r in rest for n in range(1, len(r) + 1)]
    if not line.partial and not line.after_punctuation:
        return []
    entered = line.feed(" ")
    if entered is None or entered.targets is None:
        return []
    return [(" " + t[:n]).encode() for t in entered.targets for n in range(1, len(t) + 1)]
