"""Turning what a person typed (or a model produced) into a tool's validated arguments.

Explicit commands are strict: an unknown key or a bad value is answered with what the tool
accepts, never guessed at. The explanation is written for a person in a chat, not a developer.
"""

from __future__ import annotations

import enum
import re
import types
import typing
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails

from agent.boundary import EXCERPT_CHARS, excerpt
from agent.store.artifacts import mentioned_number
from tools.contract import Tool, ToolArgs

# A refusal names the first few problems, each held to a few lines: with a tool's usage
# under it (about 1,300 characters for the poem tool) it stays under Discord's 2,000.
MAX_PROBLEMS = 4
PROBLEM_CHARS = 300
EXPLAINED_CHARS = 600


class BadToolArgs(Exception):
    """The message explains what was wrong and what is accepted."""


def read_words(tool: Tool, text: str) -> dict[str, Any]:
    """The Args fields that free text sets, read in this one place for every tool: the text
    itself as the tool's text argument, the piece it names (#N), the option values it names
    outright ("a haiku", "seed 7"), then the tool's own rules (Tool.reads: "a variation" ->
    mode=vary), which win over the generic ones."""
    values: dict[str, Any] = {}
    if tool.text_arg is not None and text:
        values[tool.text_arg] = text
    for name, info in tool.args.model_fields.items():
        if name != tool.text_arg and (value := named_value(name, info, text)) is not None:
            values[name] = value
    piece = mentioned_number(text)
    if piece is not None:
        values["piece"] = piece
    values.update(tool.reads(text))
    return values


def validate_args(tool: Tool, options: Mapping[str, Any], text: str) -> ToolArgs:
    """`options` (typed fields, or a console's key=value strings) plus the free `text` ->
    the tool's Args, or BadToolArgs. The options win over what the words say."""
    unknown = sorted(set(options) - set(tool.args.model_fields))
    if unknown:
        raise BadToolArgs(f"/{tool.name} does not take {_listed(unknown)}.\n{usage(tool)}")
    values = {**(read_words(tool, text) if text else {}), **options}
    if (
        tool.text_arg is not None
        and _needed(tool)
        and not str(values.get(tool.text_arg, "")).strip()
    ):
        raise BadToolArgs(
            f"What should the {tool.name} be about? Say it after the options, for example "
            f"`/{tool.name} a heron in the rain`.\n{usage(tool)}"
        )
    try:
        return tool.args.model_validate(values)
    except ValidationError as error:
        raise BadToolArgs(f"/{tool.name}: {explain(error)}\n{usage(tool)}") from None


def _needed(tool: Tool) -> bool:
    assert tool.text_arg is not None
    return tool.args.model_fields[tool.text_arg].is_required()


def usage(tool: Tool) -> str:
    lines = [f"/{tool.name} key=value ... text: {tool.description}"]
    for name, info in tool.args.model_fields.items():
        lines.append(f"  {name}: {_describe(name, info, tool)}")
    return "\n".join(lines)


def _describe(name: str, info: FieldInfo, tool: Tool) -> str:
    parts = [info.description or ""]
    choices = typing.get_args(info.annotation)
    if typing.get_origin(info.annotation) is typing.Literal:
        parts.append("one of " + ", ".join(str(c) for c in choices))
    for bound in info.metadata:
        parts.append(_bound_text(bound))
    if name == tool.text_arg:
        parts.append("the free text after the options")
    elif not info.is_required():
        parts.append(f"default {info.default}")
    return "; ".join(p for p in parts if p)


def _bound_text(bound: Any) -> str:
    for attribute, word in (("ge", "at least"), ("gt", "over"), ("le", "at most"), ("lt", "under")):
        if hasattr(bound, attribute):
            return f"{word} {getattr(bound, attribute)}"
    if hasattr(bound, "max_length"):
        return f"at most {bound.max_length} characters"
    return ""


def explain(error: ValidationError) -> str:
    """What did not validate, for a person: each problem quotes at most an excerpt of the
    value (the value may be thousands of characters), and the first few problems only, so
    that the reply with the usage under it stays one Discord message."""
    problems = [_problem(item) for item in error.errors(include_url=False)]
    more = len(problems) - MAX_PROBLEMS
    said = "; ".join(problems[:MAX_PROBLEMS]) + (f"; and {more} more" if more > 0 else "")
    return excerpt(said, EXPLAINED_CHARS)


def _problem(item: ErrorDetails) -> str:
    field = ".".join(str(part) for part in item["loc"]) or "arguments"
    if item["type"] == "missing":
        return f"{field} is needed"
    if item["type"] == "value_error":  # a validator's own words, written for people
        return _unechoed(str(item["ctx"]["error"]), item.get("input"))
    message = item["msg"][0].lower() + item["msg"][1:]
    return f"{field}={_quoted(item['input'])}: {excerpt(message, PROBLEM_CHARS)}"


def _quoted(value: object) -> str:
    return repr(excerpt(value)) if isinstance(value, str) else excerpt(value)


def _unechoed(message: str, value: object) -> str:
    """A validator's message with the value it quotes (`{value!r}` or `{value}`) cut to an
    excerpt, and the whole held to a few lines' worth."""
    if isinstance(value, str) and len(value) > EXCERPT_CHARS:
        message = message.replace(repr(value), repr(excerpt(value)))
        message = message.replace(value, excerpt(value))
    return excerpt(message, PROBLEM_CHARS)


def _listed(keys: list[str]) -> str:
    """Option names (each under MAX_NAME_CHARS: agent/boundary.py), the first few."""
    shown = ", ".join(excerpt(key) for key in keys[:MAX_PROBLEMS])
    more = len(keys) - MAX_PROBLEMS
    return shown + (f" and {more} more" if more > 0 else "")


def named_value(name: str, info: FieldInfo, text: str) -> Any:
    """A value the request states outright: the one option of a choice that it names, or
    a number right after the field's name ("seed 7", "steps=4")."""
    kinds = _alternatives(info.annotation)
    options = [option for kind in kinds for option in _options(kind)]
    if options:
        named = [option for option in options if _names(text, str(option))]
        return named[0] if len(named) == 1 else None
    if int in kinds or float in kinds:
        label = re.escape(name.replace("_", " "))
        found = re.search(rf"\b{label}\s*[=:]?\s*(-?\d+(?:\.\d+)?)", text, re.IGNORECASE)
        return found.group(1) if found else None
    return None


def _alternatives(annotation: Any) -> tuple[Any, ...]:
    """`X | Y | None` -> (X, Y); anything else -> (itself,)."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return tuple(a for a in typing.get_args(annotation) if a is not type(None))
    return (annotation,)


def _options(annotation: Any) -> tuple[Any, ...]:
    if typing.get_origin(annotation) is typing.Literal:
        return typing.get_args(annotation)
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return tuple(member.value for member in annotation)
    return ()


def _names(text: str, option: str) -> bool:
    # Word boundaries on both sides, so "form=tanka" names tanka but "cantankerous" does not.
    return re.search(rf"(?<!\w){re.escape(option)}(?!\w)", text, re.IGNORECASE) is not None
