"""The style tool's free-text rules: the StyleArgs fields a request's own words set.

This is the one place the style tool reads words (`Tool.reads`, tools/contract.py). Slash
options arrive as fields and win over the words.

from_pieces  every #N the text names, in order: "/style train watercolor #3 #7" -> (3, 7)
name         the style's name, by the first rule that matches:
               "my watercolor style", "a style called ink", "style named ink", "in the ink
               style"; 叫水彩的风格, 名为水彩的风格, 我的水彩风格
               the words left once the #N are taken out, when they are a name and not a
               request ("/style train watercolor #3 #7" -> "watercolor")
             else "" (the Args then ask what to call it): "learn my style from my kept
             pictures" names no style
"""

from __future__ import annotations

import re
from typing import Any

from tools.contract import PIECE_MENTION

NAME_LIMIT = 40
_NAME = r"([^\s#,.!?;:，。！？；：]{1,40}(?:[ -][^\s#,.!?;:，。！？；：]{1,40})?)"
NAMED = (
    re.compile(rf"\bstyle\s+(?:called|named)\s+[\"']?{_NAME}", re.IGNORECASE),
    re.compile(r"\b(?:my|a|the)\s+([^\s#,.!?;:]{1,40})\s+style\b", re.IGNORECASE),
    re.compile(r"(?:叫|名为|叫做)[「“\"]?([^\s#，。！？的]{1,20})[」”\"]?的?风格"),
    re.compile(r"我的([^\s#，。！？的]{1,20})风格"),
)
# Words of a request rather than a name: the whole text is then not taken as the name.
REQUEST_WORDS = re.compile(
    r"\b(?:learn|train|teach|make|style|from|my|pictures?|images?|kept)\b|学|训练|风格|图",
    re.IGNORECASE,
)
# "my style" is no name: the possessive alone.
NOT_NAMES = frozenset({"own", "personal", "new", "painting", "drawing", "art"})
SEPARATORS = re.compile(r"[\s,，、]+")


def read_style_request(text: str) -> dict[str, Any]:
    """The StyleArgs fields these words set (see the module docstring)."""
    fields: dict[str, Any] = {"name": style_name_in(text)}
    numbers = tuple(int(number) for number in PIECE_MENTION.findall(text))
    if numbers:
        fields["from_pieces"] = numbers
    return fields


def style_name_in(text: str) -> str:
    """The name the words give the style, or ""."""
    for rule in NAMED:
        match = rule.search(text)
        if match and match.group(1).lower() not in NOT_NAMES:
            return match.group(1).strip()
    rest = without_pieces(text)
    if rest and len(rest) <= NAME_LIMIT and not REQUEST_WORDS.search(rest):
        return rest
    return ""


def without_pieces(text: str) -> str:
    """The text with its #N (and the commas between them) taken out, spaces made single."""
    return SEPARATORS.sub(" ", PIECE_MENTION.sub(" ", text)).strip()
