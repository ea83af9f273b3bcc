"""export.json: a person's export as data, shaped as export.schema.json (beside this file)
describes it. Pieces are described as the session export describes them (its piece_entry),
with when they were kept and where they were made.

Times are ISO 8601 in UTC. Pieces are named by their public number (#N), conversations by
their place in the list; no user id, platform id or server path is in it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from agent.personal_export.snapshot import ConversationFacts, OwnPiece, PersonSnapshot, SaidFacts
from agent.sessions.export.document import (
    Document,
    ZipNames,
    left_out_entry,
    opening,
    piece_entry,
    zip_names,
)
from agent.sessions.export.files import LeftOut, MediaFile

FORMAT = "atelier-personal-export"
VERSION = 1


def person_document(
    snapshot: PersonSnapshot,
    included: Iterable[MediaFile],
    left_out: Sequence[LeftOut],
    exported_at: datetime,
) -> Document:
    names = zip_names(included)
    return {
        **opening(FORMAT, VERSION, exported_at),
        "person": {"name": snapshot.name, "platform": snapshot.platform},
        "conversations": [_conversation(c) for c in snapshot.conversations],
        "pieces": [_piece(piece, names) for piece in snapshot.pieces],
        "left_out": [left_out_entry(gone) for gone in left_out],
    }


def _conversation(conversation: ConversationFacts) -> dict[str, Any]:
    return {
        "number": conversation.number,
        "kind": conversation.kind,
        "theme": conversation.theme,
        "started_at": conversation.started_at.isoformat(),
        "messages": [_message(said) for said in conversation.messages],
    }


def _message(said: SaidFacts) -> dict[str, Any]:
    return {"role": said.role, "text": said.text, "at": said.at.isoformat(), "piece": said.piece}


def _piece(piece: OwnPiece, names: ZipNames) -> dict[str, Any]:
    return {
        **piece_entry(piece.facts, names),
        "kept_at": None if piece.kept_at is None else piece.kept_at.isoformat(),
        "conversation": piece.conversation,
    }
