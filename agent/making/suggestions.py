"""Revising a critiqued piece by one of its critique's suggestions ("apply suggestion 2").

A critique (tools/critique/tool.py) keeps its numbered suggestions in its params and names the
piece it critiqued as its parent. When a person asks to apply one while a critique is in
focus (replied to, named as #N, or the latest piece), the tool that makes pieces of the
critiqued kind revises that piece (Tool.revision) with the suggestion as its instruction, and
the new version joins the piece's version tree. A critique of a poem pasted into a message has
no piece to revise, so applying one of its suggestions first keeps that poem as a piece.

A request is recognised only when it is plainly about a suggestion. The rules, in English and
Chinese (the test table is tests/agent/making/test_suggestions.py):

    apply / use / try / take / follow / go with suggestion N     "apply suggestion 2"
    ... the first / second / ... fifth suggestion                "try the second suggestion"
    suggestion N, on its own                                     "suggestion #2 please"
    应用 / 采用 / 采纳 / 用 / 按 第N条 / 第二条 建议              "应用第二条建议", "采纳建议2"
    第N条建议, on its own                                        "第三条建议"
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from agent.making.revisions import CannotRevise, revising
from agent.store.db import Artifact
from tools.contract import ArtifactKind, Tool, ToolArgs

_ORDINALS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5}
_CHINESE_NUMBERS = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8}
_NUMBER = r"(?:no\.?\s*|number\s*|#\s*)?(?P<digits>\d{1,2})\b"
_VERB = r"(?:apply|use|do|try|take|follow|go\s+with|make)"
_CHINESE_VERB = r"(?:应用|采用|采纳|使用|用|按照?|试试|执行)"
_CHINESE_NTH = (
    rf"第\s*(?:(?P<zh_digits>\d{{1,2}})|(?P<zh_number>[{''.join(_CHINESE_NUMBERS)}]))\s*[条个点]?"
)
_ASKS = (
    # "apply suggestion 2", "please use suggestion #2 on #5"
    re.compile(rf"\b{_VERB}\s+(?:the\s+)?suggestion\s*{_NUMBER}", re.IGNORECASE),
    # "try the second suggestion"
    re.compile(
        rf"\b{_VERB}\s+(?:the\s+)?(?P<ordinal>{'|'.join(_ORDINALS)})\s+suggestion\b",
        re.IGNORECASE,
    ),
    # "suggestion 2", "suggestion 2 please" on its own
    re.compile(rf"^\W*(?:please\s+)?suggestion\s*{_NUMBER}\W*(?:please)?\W*$", re.IGNORECASE),
    # "应用第二条建议", "按第2条建议改", "第三条建议"
    re.compile(rf"(?:{_CHINESE_VERB}\s*)?{_CHINESE_NTH}\s*建议"),
    # "采纳建议2", "用建议 #2"
    re.compile(rf"{_CHINESE_VERB}\s*建议\s*#?\s*(?P<zh_after>\d{{1,2}})"),
)
WHICH_CRITIQUE = (
    "Which critique's suggestion? Reply to the critique, or name it: 'apply suggestion 2 of #7'."
)


@dataclass(frozen=True)
class SuggestionAsk:
    number: int  # 1-based, as the critique numbers them
    rest: str  # the message without the request, where a #N may name the critique


@dataclass(frozen=True)
class Revision:
    tool: Tool
    args: ToolArgs
    piece_number: int | None  # None: the critique was of a poem pasted into a message
    instruction: str


def asked_suggestion(text: str) -> SuggestionAsk | None:
    """The suggestion a message asks to apply, if that is what it asks."""
    for pattern in _ASKS:
        found = pattern.search(text)
        if found is not None:
            rest = (text[: found.start()] + " " + text[found.end() :]).strip()
            return SuggestionAsk(_number(found.groupdict()), rest)
    return None


def _number(groups: Mapping[str, str | None]) -> int:
    digits = groups.get("digits") or groups.get("zh_digits") or groups.get("zh_after")
    if digits:
        return int(digits)
    if groups.get("zh_number"):
        return _CHINESE_NUMBERS[str(groups["zh_number"])]
    return _ORDINALS[str(groups["ordinal"]).lower()]


def plan_revision(critique: Artifact, number: int, tools: Iterable[Tool]) -> Revision:
    """Which tool revises which piece by which suggestion of `critique`; CannotRevise says why
    not in one line."""
    if critique.kind != ArtifactKind.CRITIQUE.value:
        raise CannotRevise(f"#{critique.id} is a {critique.kind}, not a critique. {WHICH_CRITIQUE}")
    suggestions = _suggestions(critique.params)
    if not suggestions:
        raise CannotRevise(f"Critique #{critique.id} has no suggestions to apply.")
    if not 1 <= number <= len(suggestions):
        raise CannotRevise(
            f"Critique #{critique.id} has suggestions 1 to {len(suggestions)}; "
            f"there is no suggestion {number}."
        )
    kind = str((critique.params.get("critiqued") or {}).get("kind", ""))
    instruction = suggestions[number - 1]
    tool, args = revising(kind, instruction, tools)
    return Revision(tool, args, critique.parent_id, instruction)


def _suggestions(params: Mapping[str, Any]) -> list[str]:
    listed = params.get("suggestions") or []
    texts = [item.get("text") if isinstance(item, Mapping) else item for item in listed]
    return [str(text) for text in texts if text]
