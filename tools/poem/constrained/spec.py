"""What a constrained pass writes: the poem's lines as slots, each with its count and rhyme
letter, some already written (a revision keeps them) and the rest to write, in order."""

from __future__ import annotations

from dataclasses import dataclass

from tools.poem import prosody
from tools.poem.constrained.lines import Bounds, LineRule, line_key

# Lines of a form that counts nothing (free verse, a quatrain) still get a length, so a
# line ends as a line rather than running on.
OPEN_SYLLABLES: Bounds = (5, 11)
OPEN_CHARACTERS: Bounds = (5, 7)


@dataclass(frozen=True)
class Slot:
    window: Bounds
    letter: str = "-"  # the rhyme letter; "-": need not rhyme
    text: str | None = None  # a line kept as it is; None: to write
    tones: tuple[str | None, ...] = ()


@dataclass(frozen=True)
class PoemSpec:
    lang: str
    slots: tuple[Slot, ...]
    strict: bool = False

    def to_write(self) -> tuple[int, ...]:
        return tuple(i for i, slot in enumerate(self.slots) if slot.text is None)

    def rule(self, index: int, lines: dict[int, str]) -> LineRule:
        """The rule for slot `index`, given the lines there are so far (kept and written)."""
        slot = self.slots[index]
        filled = {i: line for i, line in lines.items() if i != index}
        same = [i for i, other in enumerate(self.slots) if other.letter == slot.letter]
        partners = tuple(
            end for i in same if i in filled and (end := self._end(filled[i])) is not None
        )
        later = [i for i in same if i != index and i not in filled]
        anchor = slot.letter != "-" and not partners and bool(later)
        taken = frozenset(line_key(line) for line in filled.values())
        return LineRule(
            slot.window, partners if slot.letter != "-" else (), anchor, taken, slot.tones
        )

    def _end(self, line: str) -> str | None:
        if self.lang == "zh":
            return prosody.last_han_character(line)
        return prosody.last_english_word(line)
