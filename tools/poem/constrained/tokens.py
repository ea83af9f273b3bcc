"""A tokenizer's vocabulary as bytes: what each token adds to the text.

Byte-level tokenizers (SmolLM2's, Qwen2's) spell a Han character over several tokens, each
only part of its UTF-8 bytes, so tokens are read as bytes, never decoded one by one.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from transformers.convert_slow_tokenizer import bytes_to_unicode

_BYTE_OF = {character: byte for byte, character in bytes_to_unicode().items()}


@dataclass(frozen=True, eq=False)
class TokenTable:
    pieces: tuple[bytes, ...]  # by token id
    by_piece: dict[bytes, int]  # the shortest id of each piece
    newline: int
    special: frozenset[int]


@functools.lru_cache(maxsize=4)
def token_table(tokenizer: Any) -> TokenTable:
    size = len(tokenizer)
    names = tokenizer.convert_ids_to_tokens(list(range(size)))
    special = frozenset(tokenizer.all_special_ids)
    pieces = tuple(
        b"" if token_id in special else _piece(tokenizer, token_id, name)
        for token_id, name in enumerate(names)
    )
    by_piece: dict[bytes, int] = {}
    for token_id, piece in enumerate(pieces):
        if piece:
            by_piece.setdefault(piece, token_id)
    return TokenTable(pieces, by_piece, by_piece[b"\n"], special)


def _piece(tokenizer: Any, token_id: int, name: str | None) -> bytes:
    if name and all(character in _BYTE_OF for character in name):
        return bytes(_BYTE_OF[character] for character in name)
    # Not byte-level (a SentencePiece vocabulary, say): the token's own text.
    return str(tokenizer.decode([token_id])).encode()
