"""Revising the piece in focus by the person's own words ("make it darker", "shorter, please").

The router's REVISE choice says only that the person wants the piece they are working on
changed, not what kind of piece it is. The piece is the turn's focus (the one replied to,
named as #N, or the latest); a critique in focus stands for the piece it critiques, so "make
it darker" after a critique changes the picture, not the critique. The tool that makes pieces
of that kind revises it (Tool.revision) with the words as the instruction, and the new version
joins the piece's version tree. Applying a critique's numbered suggestion
(agent/making/suggestions.py) goes through the same tool lookup.
"""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import ValidationError

from agent.scope import Scope
from agent.store.db import Artifact
from tools.contract import ArtifactKind, Tool, ToolArgs

WHICH_PIECE = "Which piece should I change? Reply to it, or name it: 'make #4 darker'."


class CannotRevise(Exception):
    """The piece cannot be revised that way. The message is one line for the person."""


def piece_to_revise(scope: Scope) -> Artifact | None:
    """The scope's focus, or for a critique the piece it critiques; None with nothing in focus."""
    focus = scope.focus
    if focus is None or focus.kind != ArtifactKind.CRITIQUE.value:
        return focus
    if scope.critiqued is None:
        raise CannotRevise(f"Critique #{focus.id} is not about a piece I can change. {WHICH_PIECE}")
    return scope.critiqued


def revising(kind: str, instruction: str, tools: Iterable[Tool]) -> tuple[Tool, ToolArgs]:
    """The tool that revises pieces of `kind`, and its args for `instruction`."""
    tool = next((t for t in tools if t.kind.value == kind and t.revision is not None), None)
    if tool is None or tool.revision is None:
        raise CannotRevise(f"No tool here can revise {_a(kind or 'piece of that kind')} yet.")
    try:
        return tool, tool.revision(instruction)
    except ValidationError as error:
        reason = error.errors(include_url=False)[0]["msg"]
        raise CannotRevise(f"The {tool.name} tool cannot take that: {reason.lower()}.") from None


def _a(noun: str) -> str:
    return f"an {noun}" if noun[:1] in "aeiou" else f"a {noun}"
