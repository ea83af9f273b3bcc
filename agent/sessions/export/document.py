"""session.json: the whole session as data, shaped as session.schema.json (beside this file)
describes it. The page is rendered from this same document, so the two never disagree.

Times are ISO 8601 in UTC. Pieces are named by their public number (#N), people by their
display name; no user id, platform id or server path is in it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from agent.sessions.export.credits import Credit
from agent.sessions.export.files import LeftOut, MediaFile
from agent.sessions.export.snapshot import (
    MemberFacts,
    PieceFacts,
    RoundFacts,
    SessionFacts,
    Snapshot,
    StoredFile,
)
from agent.sessions.relay_lines import RelayPoem

FORMAT = "atelier-session-export"
VERSION = 1

Document = dict[str, Any]
ZipNames = dict[tuple[int, str | None], str]  # (piece, file name) -> its name in the zip


def session_document(
    snapshot: Snapshot,
    poems: Sequence[RelayPoem],
    credits: Sequence[Credit],
    included: Iterable[MediaFile],
    left_out: Sequence[LeftOut],
    exported_at: datetime,
) -> Document:
    names = zip_names(included)
    return {
        **opening(FORMAT, VERSION, exported_at),
        "session": _session(snapshot.session),
        "members": [_member(member) for member in snapshot.members],
        "pieces": [piece_entry(piece, names) for piece in snapshot.pieces],
        "rounds": [_round(round_) for round_ in snapshot.rounds],
        "relay": [_poem(poem) for poem in poems],
        "credits": [_credit(credit) for credit in credits],
        "left_out": [left_out_entry(gone) for gone in left_out],
    }


def opening(format_: str, version: int, exported_at: datetime) -> Document:
    """The fields both exports' documents open with: which format and version, and when."""
    return {"format": format_, "version": version, "exported_at": exported_at.isoformat()}


def zip_names(included: Iterable[MediaFile]) -> ZipNames:
    """Each file in the zip by its piece and name, as piece_entry looks it up."""
    return {(file.piece, file.stored.name): file.zip_name for file in included}


def _time(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _session(facts: SessionFacts) -> dict[str, Any]:
    return {
        "theme": facts.theme,
        "mode": facts.mode,
        "style": facts.style,
        "form": facts.form,
        "state": facts.state,
        "created_at": _time(facts.created_at),
        "ended_at": _time(facts.ended_at),
    }


def _member(member: MemberFacts) -> dict[str, Any]:
    return {
        "name": member.name,
        "role": member.role,
        "joined_at": _time(member.joined_at),
        "left_at": _time(member.left_at),
    }


def piece_entry(piece: PieceFacts, names: ZipNames) -> dict[str, Any]:
    """A piece as both exports describe it, its files named as `names` names them."""
    own = next((stored for stored in piece.files if stored.name is None), None)
    kept = [stored for stored in piece.files if stored.name is not None]
    return {
        "number": piece.number,
        "kind": piece.kind,
        "version": piece.version,
        "parent": piece.parent,
        "root": piece.root,
        "contributor": piece.contributor,
        "prompt": piece.prompt,
        "params": piece.params,
        "text": piece.text,
        "created_at": _time(piece.created_at),
        # The piece's own media in the zip; null when it has none or it was left out.
        "file": None if own is None else names.get((piece.number, None)),
        "mime_type": None if own is None else own.mime_type,
        "files": [_kept(piece.number, stored, names) for stored in kept],
    }


def _kept(number: int, stored: StoredFile, names: ZipNames) -> Any:
    return {
        "name": stored.name,
        "mime_type": stored.mime_type,
        "file": names.get((number, stored.name)),
    }


def _round(round_: RoundFacts) -> dict[str, Any]:
    counts = Counter(vote.piece for vote in round_.votes)
    return {
        "number": round_.number,
        "kind": round_.kind,
        "prompt": round_.prompt,
        "state": round_.state,
        "opened_at": _time(round_.opened_at),
        "closes_at": _time(round_.closes_at),
        "closed_at": _time(round_.closed_at),
        "candidates": list(round_.candidates),
        "votes": [{"voter": vote.voter, "piece": vote.piece} for vote in round_.votes],
        # Every candidate, with none left out for having no vote.
        "tally": [{"piece": piece, "votes": counts[piece]} for piece in round_.candidates],
        "winner": round_.winner,
    }


def _poem(poem: RelayPoem) -> dict[str, Any]:
    return {
        "root": poem.root,
        "piece": poem.piece,
        "lines": [{"text": line.text, "author": line.author} for line in poem.lines],
    }


def _credit(credit: Credit) -> dict[str, Any]:
    return {
        "name": credit.name,
        "versions": credit.versions,
        "relay_lines": credit.relay_lines,
        "votes": credit.votes,
    }


def left_out_entry(gone: LeftOut) -> dict[str, Any]:
    """A file not in the zip, and why (both exports list them so)."""
    return {
        "file": gone.file.zip_name,
        "piece": gone.file.piece,
        "name": gone.file.stored.name,
        "mime_type": gone.file.stored.mime_type,
        "bytes": gone.file.size,
        "reason": str(gone.reason),
    }
