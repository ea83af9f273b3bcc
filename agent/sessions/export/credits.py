"""Who contributed what to a session: per person, the versions they made, the relay lines they
wrote and the votes they cast, counted by person (not by display name, which two members may
share), members first in join order, then anyone else who made something, then "a former
member" for the work of people who were forgotten."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from agent.sessions.canvas import FORMER_MEMBER
from agent.sessions.export.snapshot import Snapshot
from agent.sessions.relay_lines import RelayPoem


@dataclass(frozen=True)
class Credit:
    name: str
    versions: int
    relay_lines: int
    votes: int


def credits(snapshot: Snapshot, poems: Sequence[RelayPoem]) -> list[Credit]:
    names = _names(snapshot)
    versions = Counter(piece.creator_id for piece in snapshot.pieces)
    lines = Counter(line.author_id for poem in poems for line in poem.lines)
    votes = Counter(vote.voter_id for round_ in snapshot.rounds for vote in round_.votes)
    people = [*names, *([None] if None in versions or None in lines else [])]
    return [
        Credit(names.get(who, FORMER_MEMBER), versions[who], lines[who], votes[who])
        for who in people
    ]


def _names(snapshot: Snapshot) -> dict[int | None, str]:
    """Everyone named in the session, in order: members, then creators and voters who are not
    (or no longer) members."""
    names: dict[int | None, str] = {m.user_id: m.name for m in snapshot.members}
    for piece in snapshot.pieces:
        if piece.creator_id is not None:
            names.setdefault(piece.creator_id, piece.contributor)
    for round_ in snapshot.rounds:
        for vote in round_.votes:
            names.setdefault(vote.voter_id, vote.voter)
    return names
