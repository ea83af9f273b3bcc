"""A tokenizer's vocabulary as bytes: what each token adds to the text, and which tokens could
ever belong to an English or a Chinese line.

Byte-level tokenizers (SmolLM2's, Qwen2's) spell a Han character over several tokens, each
only part of its UTF-8 bytes, so tokens are read as bytes, never decoded one by one. The
per-token facts are computed once per tokenizer, so most tokens are turned away by a set
lookup before any line state is fed (lines.py accepts nothing outside these sets).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numpy
from transformers.convert_slow_tokenizer import bytes_to_unicode

_BYTE_OF = {character: byte for byte, character in bytes_to_unicode().items()}
# Every character an English line's state can take (lines.py EnglishLine._char).
ENGLISH_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ' ,;:.!?")


@dataclass(frozen=True, eq=False)
class TokenTable:
    pieces: tuple[bytes, ...]  # by token id
    by_piece: dict[bytes, int]  # the shortest id of each piece
    newline: int
    special: frozenset[int]
    texts: tuple[str | None, ...]  # by token id: the piece as text, None if not whole UTF-8
    english: frozenset[int]  # tokens made only of what an English line may hold
    han: frozenset[int]  # tokens made only of non-ASCII bytes (parts of Han characters)
    # The same two sets as id arrays, with each token's first character code (first byte),
    # so a line can turn most of them away at once by how they begin (rows.py).
    english_ids: numpy.ndarray
    english_heads: numpy.ndarray
    han_ids: numpy.ndarray
    han_heads: numpy.ndarray


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
    texts = tuple(_text(piece) for piece in pieces)
    english = frozenset(
        t for t, text in enumerate(texts) if text and ENGLISH_CHARACTERS.issuperset(text)
    )
    han = frozenset(t for t, piece in enumerate(pieces) if piece and min(piece) >= 0x80)
    english_ids = numpy.array(sorted(english), dtype=numpy.int64)
    han_ids = numpy.array(sorted(han), dtype=numpy.int64)
    return TokenTable(
        pieces,
        by_piece,
        by_piece[b"\n"],
        special,
        texts,
        english,
        han,
        english_ids,
        numpy.array([ord(texts[t][0]) for t in english_ids], dtype=numpy.int64),  # type: ignore[index]
        han_ids,
        numpy.array([pieces[t][0] for t in han_ids], dtype=numpy.int64),
    )


def _piece(tokenizer: Any, token_id: int, name: str | None) -> bytes:
    if name and all(character in _BYTE_OF for character in name):
        return bytes(_BYTE_OF[character] for character in name)
    # Not byte-level (a SentencePiece vocabulary, say): the token's own text.
    return str(tokenizer.decode([token_id])).encode()


def _text(piece: bytes) -> str | None:
    try:
        return piece.decode()
    except UnicodeDecodeError:
        return None
