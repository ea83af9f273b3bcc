"""A tool's Args as slash-command options: typed, bounded, with choices where there are few.

Slash commands are built from the registered tools, so a new tool gets its command with no
change here. Each Args field becomes one option: str, int, float and bool keep their type and
their bounds (ge/le, min/max length) so Discord checks them as the person types; a Literal
becomes a choice list. A str field is a choice list too when the tool declares its values:
`json_schema_extra={"choices": [...]}`, each a value or a [shown, value] pair (poem forms,
aspect ratios). Everything else arrives as text and is checked by
the tool's Args as in the console (agent/making/tool_args.py), with the same messages.

Every tool command also gets a `piece` option (autocompleted with the person's #N) naming the
piece to work from.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

import annotated_types
from discord import app_commands
from pydantic.fields import FieldInfo

from tools.contract import Tool

PIECE = "piece"
PIECE_DESCRIPTION = "a piece of yours to work from, as #N (default: your latest)"
DESCRIPTION_LIMIT = 100  # Discord's, for commands and options
CHOICES_LIMIT = 25
STRING_LIMIT = 6000  # the longest string option Discord takes
MAX_OPTIONS = 25


@dataclass(frozen=True)
class SlashOption:
    name: str
    annotation: Any  # what discord.py reads: str, int, float, bool, Literal[...], Range[...]
    description: str
    required: bool
    choices: tuple[app_commands.Choice[str], ...] = ()
    autocomplete: bool = False


def describe(text: str | None, fallback: str) -> str:
    text = " ".join((text or "").split()) or fallback
    return text if len(text) <= DESCRIPTION_LIMIT else text[: DESCRIPTION_LIMIT - 1] + "…"


def tool_options(tool: Tool) -> list[SlashOption]:
    """The options of /<tool.name>, required ones first (Discord's rule). Every tool's `piece`
    (tools/contract.py ToolArgs) is autocompleted with the person's own pieces."""
    options = [field_option(name, info) for name, info in tool.args.model_fields.items()]
    options = [
        replace(option, description=PIECE_DESCRIPTION, autocomplete=True)
        if option.name == PIECE
        else option
        for option in options
    ]
    options.sort(key=lambda option: not option.required)
    return options[:MAX_OPTIONS]


def field_option(name: str, info: FieldInfo) -> SlashOption:
    """One Args field as an option: its type, bounds, choices and description."""
    base = _without_none(info.annotation)
    choices = _declared_choices(info)
    if choices:
        annotation: Any = str
    elif typing.get_origin(base) is Literal and len(typing.get_args(base)) <= CHOICES_LIMIT:
        annotation = base
    else:
        annotation = _ranged(base, info.metadata)
    return SlashOption(
        name,
        annotation,
        describe(info.description, name),
        required=info.is_required(),
        choices=tuple(app_commands.Choice(name=shown, value=value) for shown, value in choices),
    )


def _without_none(annotation: Any) -> Any:
    """`X | None` -> X: an option left out is None, which lets the tool's default apply."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        rest = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        if len(rest) == 1:
            return rest[0]
    return annotation


def _ranged(base: Any, metadata: Sequence[Any]) -> Any:
    """str, int, float or bool, with the field's bounds; any other type is taken as text."""
    if base is bool:
        return bool
    if base not in (str, int, float):
        return str
    low, high = _bounds(base, metadata)
    if low is None and high is None:
        return base
    return app_commands.Range[base, low, high]


def _bounds(base: type, metadata: Sequence[Any]) -> tuple[Any, Any]:
    low: Any = None
    high: Any = None
    for bound in metadata:
        if base is str:
            if isinstance(bound, annotated_types.MinLen):
                low = min(bound.min_length, STRING_LIMIT)
            elif isinstance(bound, annotated_types.MaxLen):
                high = min(bound.max_length, STRING_LIMIT)
            continue
        step = 1 if base is int else 0
        if isinstance(bound, annotated_types.Ge):
            low = bound.ge
        elif isinstance(bound, annotated_types.Gt):
            low = bound.gt + step
        elif isinstance(bound, annotated_types.Le):
            high = bound.le
        elif isinstance(bound, annotated_types.Lt):
            high = bound.lt - step
    cast = int if base in (int, str) else float
    return (None if low is None else cast(low)), (None if high is None else cast(high))


def _declared_choices(info: FieldInfo) -> list[tuple[str, str]]:
    """(shown, value) pairs for a field whose tool lists its values (at most Discord's 25)."""
    extra = info.json_schema_extra
    listed = extra.get("choices") if isinstance(extra, dict) else None
    if not isinstance(listed, list) or len(listed) > CHOICES_LIMIT:
        return []
    return [
        (str(item[0]), str(item[1])) if isinstance(item, list) else (str(item), str(item))
        for item in listed
    ]
