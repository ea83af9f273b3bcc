"""A server's blocklist: the terms an admin gives, and finding one in what a person asked.

Terms are matched as the operator's image blocklist is (tools/image/safety.py): whole words or
phrases, case-insensitively, so "ass" never refuses "glass". Terms in scripts written without
spaces (Chinese, Japanese) cannot have word edges and are matched anywhere in the text.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence

TERM_CHARS = 50  # a word or a short phrase, never a sentence


class BadTerm(ValueError):
    """A term that cannot go on the list; the message is one line for the admin."""


def terms_in(words: str) -> tuple[str, ...]:
    """The comma-separated terms of `words`, each normalised (normal_term); empty ones
    dropped, each once, in the order given."""
    found: list[str] = []
    for part in words.split(","):
        term = normal_term(part)
        if len(term) > TERM_CHARS:
            raise BadTerm(f"“{term[:TERM_CHARS]}…” is longer than {TERM_CHARS} characters")
        if term and term not in found:
            found.append(term)
    return tuple(found)


def normal_term(term: str) -> str:
    """Case folded, NFKC (full-width letters as their plain forms), one space between words."""
    return " ".join(unicodedata.normalize("NFKC", term).casefold().split())


def blocked_term(texts: Iterable[str], terms: Sequence[str]) -> str | None:
    """The first of `terms` that one of `texts` contains, or None."""
    if not terms:
        return None
    normalised = [normal_term(text) for text in texts if text]
    for term in terms:
        pattern = _pattern(term)
        if any(pattern.search(text) for text in normalised):
            return term
    return None


def _pattern(term: str) -> re.Pattern[str]:
    if any(unicodedata.east_asian_width(char) in "WF" for char in term):
        return re.compile(re.escape(term))
    return re.compile(rf"(?<!\w){re.escape(term)}(?!\w)")
