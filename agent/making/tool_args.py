"""Turning what a person typed (or a model produced) into a tool's validated arguments.

Explicit commands are strict: an unknown key or a bad value is answered with what the tool
accepts, never guessed at. The explanation is written for a person in a chat, not a developer.
"""

from __future__ import annotations

import typing
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError
from pydantic.fields import FieldInfo

from tools.contract import Tool, ToolArgs


class BadToolArgs(Exception):
    """The message explains what was wrong and what is accepted."""


def validate_args(tool: Tool, options: Mapping[str, Any], text: str) -> ToolArgs:
    """`options` (key=value) plus the free `text` -> the tool's Args, or BadToolArgs."""
    unknown = sorted(set(options) - set(tool.args.model_fields))
    if unknown:
        keys = ", ".join(unknown)
        raise BadToolArgs(f"/{tool.name} does not take {keys}.\n{usage(tool)}")
    values = dict(options)
    if text and tool.text_arg is not None:
        values.setdefault(tool.text_arg, text)
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
        raise BadToolArgs(f"/{tool.name}: {_explain(error)}\n{usage(tool)}") from None


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


def _explain(error: ValidationError) -> str:
    problems = []
    for item in error.errors(include_url=False):
        field = ".".join(str(part) for part in item["loc"]) or "arguments"
        if item["type"] == "missing":
            problems.append(f"{field} is needed")
        elif item["type"] == "value_error":  # a validator's own words, written for people
            problems.append(str(item["ctx"]["error"]))
        else:
            message = item["msg"][0].lower() + item["msg"][1:]
            problems.append(f"{field}={item['input']!r}: {message}")
    return "; ".join(problems)
