"""What a router makes of free text, and the router protocol.

The turn pipeline (agent/turns.py) asks a router once per free-text turn; the answer is a
typed Decision: a tool with validated Args, a question back, plain chat, or a change to the
piece in focus whose kind the words do not name ("make it darker").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from langchain_core.messages import BaseMessage

from tools.catalog import JUST_ANSWER, REVISE_FOCUS
from tools.contract import Tool, ToolArgs

# The router's choices that are not tools: reply in words, or revise the piece in focus.
ANSWER = JUST_ANSWER.name
REVISE = REVISE_FOCUS.name


@dataclass(frozen=True)
class Decision:
    """A tool with arguments, a question, or one of ANSWER and REVISE."""

    choice: str  # ANSWER, REVISE or a tool name
    args: ToolArgs | None = None
    question: str | None = None


class Router(Protocol):
    async def decide(
        self, history: Sequence[BaseMessage], text: str, tools: Sequence[Tool]
    ) -> Decision: ...


class AlwaysAnswer:
    """The router when no tool is configured, or none routes: every free text is chat."""

    async def decide(
        self, history: Sequence[BaseMessage], text: str, tools: Sequence[Tool]
    ) -> Decision:
        return Decision(ANSWER)
