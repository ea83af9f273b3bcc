"""A person's taste in music: what the clips they kept (/keep) have in common shapes a new
clip's defaults (in a session, only for a member who let their taste count).

Read from the kept clips' params (tools/music/draft.py writes them), newest first; each
default applies only where the request leaves it open:
  instruments  those named in most of their descriptions, added to a description that names
               none ("a rainy night" -> "a rainy night, piano")
  tempo        the tempo word most of them use (slow, upbeat ...), added where none is said
  duration     the median of their lengths, where the request gives none
Only new clips take it (tools/music/tool.py, mode "new"): an extension, a new take, a
poem's setting, music for a picture and a tune played anew follow their source. The note says
what was applied ("from your kept clips: piano, slow, 12 s") and the params' "taste" records it.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tools.music.descriptions import INSTRUMENTS, joined, words, wordset

TEMPO = wordset("slow fast upbeat moderate slowly lively driving relaxed gentle")


@dataclass(frozen=True)
class MusicTaste:
    """The defaults a person's kept clips lend; empty or None where they say nothing."""

    instruments: tuple[str, ...] = ()
    tempo: str | None = None
    duration: float | None = None

    def words(self) -> str:
        """What was learned, for a note: "piano, cello, slow, 12 s"."""
        parts = [*self.instruments, self.tempo]
        if self.duration is not None:
            parts.append(f"{self.duration:g} s")
        return ", ".join(part for part in parts if part)

    def as_params(self) -> dict[str, Any]:
        """What was applied, as a clip's params record it: only the parts that say something."""
        found = {"instruments": list(self.instruments), "tempo": self.tempo}
        found["duration"] = self.duration
        return {key: value for key, value in found.items() if value}

    def __bool__(self) -> bool:
        return bool(self.as_params())


def music_taste(kept: Sequence[Mapping[str, Any]]) -> MusicTaste:
    """What most of the kept clips share: an instrument or a tempo word in more than half of
    their descriptions, and their median length."""
    said = [set(words(str(p.get("description") or ""))) for p in kept]
    counted = Counter(word for found in said for word in found)
    shared = [word for word, n in counted.most_common() if 2 * n > len(said)]
    lengths = [float(p["duration"]) for p in kept if isinstance(p.get("duration"), int | float)]
    return MusicTaste(
        instruments=tuple(word for word in shared if word in INSTRUMENTS),
        tempo=next((word for word in shared if word in TEMPO), None),
        duration=round(statistics.median(lengths), 1) if lengths else None,
    )


def tasted_fields(description: str, duration: float | None, taste: MusicTaste) -> dict[str, Any]:
    """The Args fields the taste sets: only what the request left open."""
    said = set(words(description))
    additions = []
    if taste.instruments and not said & INSTRUMENTS:
        additions.extend(taste.instruments)
    if taste.tempo and not said & TEMPO:
        additions.append(taste.tempo)
    update: dict[str, Any] = {}
    if additions:
        update["description"] = joined(description, *additions)
    if taste.duration is not None and duration is None:
        update["duration"] = taste.duration
    return update


def applied_taste(update: Mapping[str, Any], taste: MusicTaste, description: str) -> MusicTaste:
    """The part of the taste that `update` (tasted_fields' answer for `description`) applied."""
    said = set(words(description))
    added = "description" in update
    return MusicTaste(
        instruments=taste.instruments if added and not said & INSTRUMENTS else (),
        tempo=taste.tempo if added and not said & TEMPO else None,
        duration=update.get("duration"),
    )
