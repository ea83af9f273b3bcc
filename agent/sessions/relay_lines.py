"""The relay poems of a session: each poem's newest version, line by line, with the member
who wrote each line (the finale and the export show them).

It reads the convention the relay writes (agent/sessions/relay.py): a relay poem is a chain of
poem pieces sharing a root, each with `params["relay"] = {"added": k}`; a version's text is
the whole poem so far, and the lines it added are the last k non-empty lines of its text,
written by that version's creator. It works on plain values (`RelayVersion`), so the export's
worker thread can use it with no database.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from agent.sessions.canvas import FORMER_MEMBER
from tools.poem.prosody import content_lines

RELAY = "relay"  # the params key of a relay poem's versions


class RelayVersion(Protocol):
    """A piece as the relay's authorship needs it (the export's RelayVersion is one)."""

    @property
    def number(self) -> int: ...
    @property
    def kind(self) -> str: ...
    @property
    def parent(self) -> int | None: ...
    @property
    def root(self) -> int: ...
    @property
    def creator_id(self) -> int | None: ...
    @property
    def contributor(self) -> str: ...
    @property
    def params(self) -> Mapping[str, Any]: ...
    @property
    def text(self) -> str | None: ...


@dataclass(frozen=True)
class RelayLine:
    text: str
    author: str
    author_id: int | None  # None: a former member, or a line no version claimed


@dataclass(frozen=True)
class RelayPoem:
    root: int  # the poem's first version
    piece: int  # its newest version, whose lines these are
    lines: tuple[RelayLine, ...]


def relay_poems(pieces: Sequence[RelayVersion]) -> list[RelayPoem]:
    """Every relay poem, oldest first."""
    chains: dict[int, list[RelayVersion]] = {}
    for piece in pieces:
        if piece.kind == "poem" and isinstance(piece.params.get(RELAY), dict):
            chains.setdefault(piece.root, []).append(piece)
    return [_poem(root, versions) for root, versions in chains.items()]


def _poem(root: int, versions: Sequence[RelayVersion]) -> RelayPoem:
    newest = max(versions, key=lambda piece: piece.number)
    lines = content_lines(newest.text or "")
    authors = _authors(_lineage(newest, versions), len(lines))
    relay = [RelayLine(line, name, who) for line, (name, who) in zip(lines, authors, strict=True)]
    return RelayPoem(root, newest.number, tuple(relay))


def _lineage(newest: RelayVersion, versions: Sequence[RelayVersion]) -> list[RelayVersion]:
    """The versions the newest one grew from, first to newest: its parents within the chain
    (a chain is normally one line of versions, but a branch must not lend it lines)."""
    by_number = {piece.number: piece for piece in versions}
    lineage = [newest]
    while lineage[-1].parent in by_number and len(lineage) <= len(versions):
        lineage.append(by_number[lineage[-1].parent])  # type: ignore[index]
    return lineage[::-1]


def _authors(lineage: Sequence[RelayVersion], count: int) -> list[tuple[str, int | None]]:
    """Who wrote each of the newest version's `count` lines: each version claims the last
    lines of its own text, a later claim over an earlier one; a line no version claimed (none
    should be) is credited to nobody known."""
    authors: list[tuple[str, int | None]] = [(FORMER_MEMBER, None)] * count
    for piece in lineage:
        written = len(content_lines(piece.text or ""))
        for position in range(max(written - _added(piece), 0), min(written, count)):
            authors[position] = (piece.contributor, piece.creator_id)
    return authors


def _added(piece: RelayVersion) -> int:
    added = piece.params[RELAY].get("added", 0)
    return added if isinstance(added, int) and added > 0 else 0
