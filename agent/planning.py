"""Step 1 of a turn (agent/turns.py): what it asks, read from the Turn alone, before the
database. An explicit command's tool with its validated Args, a suggestion to apply, free
text to decide on, or files sent alone; the files are checked by the tools that take them,
in a thread (agent/making/uploads.py). What cannot go on is a one-line Reply, stored nowhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from agent.making.suggestions import SuggestionAsk, asked_suggestion
from agent.making.tool_args import BadToolArgs, usage, validate_args
from agent.making.uploads import Upload, UploadRefused, read_uploads
from agent.store.artifacts import mentioned_number
from agent.styles.commands import as_tool_command
from agent.types import Command, Reply, Turn
from tools.contract import Tool, ToolArgs

EMPTY_HINT = "Say something to start: a question, an idea for a poem, a picture in words."


@dataclass(frozen=True, kw_only=True)
class Plan:
    """What a turn asks, read from the Turn alone (step 1)."""

    said: str  # what the history keeps of the person's message
    piece: int | None = None  # the piece it names: a field, or #N in free text
    uploads: tuple[Upload, ...] = ()
    tool: Tool | None = None  # an explicit command's tool, with its validated args
    args: ToolArgs | None = None
    suggestion: SuggestionAsk | None = None  # "apply suggestion 2"
    text: str = ""  # free text to decide on; empty for commands and files sent alone


async def plan_turn(turn: Turn, tools: Mapping[str, Tool], *, text_limit: int) -> Plan | Reply:
    """The plan of `turn`, whose command (if any) names one of `tools`."""
    try:
        uploads = tuple(await read_uploads(turn.attachments, tuple(tools.values())))
    except UploadRefused as refused:
        return Reply(str(refused), stored=False)
    if turn.command is not None:
        command = as_tool_command(turn.command)  # /style train: the STYLE tool's; #3,#7 as numbers
        return _command_plan(tools[command.name], command, uploads)
    text = turn.text.strip()
    if uploads and not text:
        return Plan(said=_upload_line(turn), uploads=uploads)
    problem = _text_problem(turn.text, text_limit)
    if problem is not None:
        return Reply(problem, stored=False)
    ask = asked_suggestion(text)
    # "suggestion #2" names a suggestion, not piece #2: the piece is read from the rest.
    piece = mentioned_number(text if ask is None else ask.rest)
    return Plan(said=text, piece=piece, uploads=uploads, suggestion=ask, text=text)


def _text_problem(text: str, limit: int) -> str | None:
    if not text.strip():
        return EMPTY_HINT
    if len(text) > limit:
        return (
            f"That message is {len(text):,} characters; the limit is {limit:,}. "
            "Please shorten it or split it into parts. Nothing was stored."
        )
    return None


def _command_plan(tool: Tool, command: Command, uploads: tuple[Upload, ...]) -> Plan | Reply:
    if command.text.strip() == "help" and not command.args:
        return Reply(usage(tool), stored=False)
    try:
        args = validate_args(tool, command.args, command.text)
    except BadToolArgs as problem:
        return Reply(str(problem), stored=False)
    said = command_line(command)
    return Plan(said=said, piece=args.piece, uploads=uploads, tool=tool, args=args)


def command_line(command: Command) -> str:
    """The command as a person would type it, for the history."""
    options = " ".join(f"{key}={_typed(value)}" for key, value in command.args.items())
    return " ".join(part for part in (f"/{command.name}", options, command.text) if part)


def _typed(value: object) -> str:
    """A field's value as a console line would carry it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _upload_line(turn: Turn) -> str:
    """What the history keeps of a message that was only files."""
    return "[sent " + ", ".join(attachment.filename for attachment in turn.attachments) + "]"
