"""Tool calls as text: the Hermes/Qwen `<tool_call>{json}</tool_call>` protocol.

A local model calls a tool by writing

    <tool_call>
    {"name": "poem", "arguments": {"prompt": "the sea"}}
    </tool_call>

and reads the result back inside `<tool_response>...</tool_response>`. This module turns the
generated text into LangChain tool calls, writes calls and results back as text for the next
turn, and states which tools a call offers and how the model must use them (`ToolRequest`).
It knows nothing of transformers; agent/chat/model.py puts this text into the model's prompt.

Small models get the JSON slightly wrong often enough that cheap repairs pay off (single
quotes, trailing commas, a missing closing tag or brace). What cannot be repaired becomes a
LangChain InvalidToolCall, never an exception: the agent can show or correct it, and one
malformed reply never takes a conversation down.
"""

from __future__ import annotations

import ast
import json
import re
import secrets
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from langchain_core.messages import InvalidToolCall, ToolCall
from langchain_core.messages.tool import invalid_tool_call, tool_call
from langchain_core.utils.function_calling import convert_to_openai_tool

CALL_OPEN = "<tool_call>"
CALL_CLOSE = "</tool_call>"

# Where a call's body ends: at its closing tag, at the next opening tag, or at the end of the
# text, so that a model that forgets to close one call still gets that call (and the next) read.
_CALL_END = r"(?:(?P<closed></tool_call>)|(?=<tool_call>)|\Z)"
_BODY_TO_END = re.compile(rf"(?P<body>.*?){_CALL_END}", re.DOTALL)
# A body that opens as JSON (perhaps in a code fence) and, once decoded, is followed by the end.
_JSON_OPENING = re.compile(r"\s*(?:```[\w-]*\s*)?(?=[\[{])")
_AFTER_JSON = re.compile(rf"\s*(?:```\s*)?{_CALL_END}")
_ORPHAN_CLOSE = re.compile(r"</tool_call>")
# A code fence left empty once the call inside it is taken out: ```json\n\n```.
_EMPTY_FENCE = re.compile(r"```[\w-]*\s*```")
_BLANK_LINES = re.compile(r"\n{3,}")
_TRAILING_COMMA = re.compile(r",(\s*[}\]])")
_NAME_FIELD = re.compile(r"""["']name["']\s*:\s*["']([^"']+)["']""")
# Bare names a model may write for JSON literals, in JSON or Python spelling.
_LITERAL_NAMES: Mapping[str, Any] = MappingProxyType(
    {"true": True, "false": False, "null": None, "True": True, "False": False, "None": None}
)


def new_call_id() -> str:
    """An id in OpenAI's form, so tool results can be matched to their call."""
    return f"call_{secrets.token_hex(12)}"


# --- what a call offers the model ----------------------------------------------------------


AUTO = "auto"  # the model may answer or call tools
NONE = "none"  # the model must answer in text: tools are not shown to it
ANY = "any"  # the model must call at least one tool, of its choosing
_CHOICE_ALIASES: Mapping[str, str] = MappingProxyType(
    {AUTO: AUTO, NONE: NONE, ANY: ANY, "required": ANY}
)


@dataclass(frozen=True)
class ToolRequest:
    """The tools offered on one call (OpenAI-format schemas) and the normalised tool choice:
    "auto", "none", "any", or the name of the one tool that must be called."""

    schemas: tuple[dict[str, Any], ...] = ()
    choice: str = AUTO

    @classmethod
    def build(cls, tools: Sequence[Any] | None, tool_choice: Any = None) -> ToolRequest:
        """From LangChain tools, pydantic models, functions or dicts, and a tool choice in
        any of the forms LangChain integrations accept. Raises ValueError on a choice that
        names no given tool, so a typo fails when tools are bound, not mid-conversation."""
        schemas = tuple(convert_to_openai_tool(tool) for tool in tools or ())
        names = [schema["function"]["name"] for schema in schemas]
        return cls(schemas=schemas, choice=normalize_tool_choice(tool_choice, names))

    @property
    def names(self) -> list[str]:
        return [schema["function"]["name"] for schema in self.schemas]

    @property
    def offered(self) -> bool:
        """Whether the model is shown tools and its reply is read for calls."""
        return bool(self.schemas) and self.choice != NONE

    @property
    def forced_prefix(self) -> str:
        """The start of the reply, written for the model, that makes it call a tool.

        A small model asked to call a tool often answers in prose instead; beginning its
        reply with the opening of a call leaves it only the name (for "any") or only the
        arguments (for a named tool) to write.
        """
        if not self.offered or self.choice == AUTO:
            return ""
        required = self.choice
        if required == ANY and len(self.schemas) == 1:
            # "Any of one" is that one: with_structured_output binds a single schema so.
            required = self.names[0]
        if required == ANY:
            return f'{CALL_OPEN}\n{{"name": "'
        return f'{CALL_OPEN}\n{{"name": {json.dumps(required)}, "arguments": '


def normalize_tool_choice(tool_choice: Any, tool_names: Sequence[str]) -> str:
    """The choice as "auto", "none", "any" or a tool name, from None, a string ("required"
    is "any"), a bool (True is "any"), or a dict naming a function ({"type": "function",
    "function": {"name": ...}} or {"name": ...})."""
    if tool_choice is None:
        return AUTO
    if isinstance(tool_choice, bool):
        choice = ANY if tool_choice else NONE
    elif isinstance(tool_choice, str):
        choice = _CHOICE_ALIASES.get(tool_choice, tool_choice)
    elif isinstance(tool_choice, Mapping):
        named = tool_choice.get("function", tool_choice)
        name = named.get("name") if isinstance(named, Mapping) else None
        if not isinstance(name, str):
            raise ValueError(f"tool_choice {tool_choice!r} names no function")
        choice = name
    else:
        raise ValueError(
            f"tool_choice must be None, a string, a bool or a dict, not {tool_choice!r}"
        )
    if choice == ANY and not tool_names:
        raise ValueError("tool_choice 'any' needs at least one tool")
    if choice not in (AUTO, NONE, ANY) and choice not in tool_names:
        raise ValueError(
            f"tool_choice {choice!r} is not one of the bound tools {sorted(tool_names)}"
        )
    return choice


# --- writing calls, results and tool listings as text ---------------------------------------


def render_tool_call(name: str, args: Mapping[str, Any]) -> str:
    payload = json.dumps({"name": name, "arguments": dict(args)}, ensure_ascii=False)
    return f"{CALL_OPEN}\n{payload}\n{CALL_CLOSE}"


def render_invalid_tool_call(call: InvalidToolCall) -> str:
    """A malformed call as the model wrote it, so the history shows what it really said."""
    return f"{CALL_OPEN}\n{call.get('args') or ''}\n{CALL_CLOSE}"


def render_tool_response(content: str) -> str:
    return f"<tool_response>\n{content}\n</tool_response>"


def tools_system_block(schemas: Sequence[Mapping[str, Any]]) -> str:
    """The system-prompt section that lists the tools and shows how to call them, for chat
    templates that do not render tools themselves. Worded like Qwen2.5's own tool prompt,
    so models tuned on that family see what they were trained on."""
    listing = "\n".join(json.dumps(schema, ensure_ascii=False) for schema in schemas)
    return (
        "# Tools\n\n"
        "You may call one or more tools to carry out the user's request.\n\n"
        "The tools are described by JSON schemas inside <tools></tools> tags:\n"
        f"<tools>\n{listing}\n</tools>\n\n"
        "To call a tool, write a JSON object with its name and arguments inside "
        "<tool_call></tool_call> tags, one block per call:\n"
        f'{CALL_OPEN}\n{{"name": <tool-name>, "arguments": <arguments-json-object>}}\n'
        f"{CALL_CLOSE}\n\n"
        "Each result comes back inside <tool_response></tool_response> tags."
    )


# --- reading calls out of generated text -----------------------------------------------------


@dataclass(frozen=True)
class ParsedReply:
    content: str  # the text outside the calls, as the user should see it
    tool_calls: list[ToolCall] = field(default_factory=list)
    invalid_tool_calls: list[InvalidToolCall] = field(default_factory=list)


def parse_tool_calls(text: str, known_names: Collection[str] | None = None) -> ParsedReply:
    """Split generated text into prose and tool calls. Never raises.

    A call to a name outside `known_names` (when given) is invalid: the model made the tool
    up, and saying so lets the agent ask again instead of failing on a missing tool.
    """
    calls: list[ToolCall] = []
    invalid: list[InvalidToolCall] = []
    prose: list[str] = []
    position = 0
    while (start := text.find(CALL_OPEN, position)) >= 0:
        prose.append(text[position:start])
        body, closed, position = _call_body(text, start + len(CALL_OPEN))
        raw = body.strip()
        try:
            value = decode_lenient_json(raw, closed=closed)
        except ValueError as exc:
            invalid.append(_invalid(raw, f"the tool call is not valid JSON: {exc}"))
            continue
        # Some models put several calls in one block, as a list.
        for item in (value if isinstance(value, list) else [value]) or [None]:
            try:
                calls.append(_as_tool_call(item, known_names))
            except _BadCall as exc:
                invalid.append(_invalid(raw, str(exc), name=exc.name))
    prose.append(text[position:])
    return ParsedReply(_tidy("".join(prose)), calls, invalid)


def _call_body(text: str, body_start: int) -> tuple[str, bool, int]:
    """The body of the call whose opening tag ends at `body_start`, whether the model closed
    it, and where the call ends in `text`.

    Valid JSON is read as JSON first, so an argument that quotes a tag ("a poem about
    </tool_call>") does not end the call early; otherwise the call runs to the next tag.
    """
    opening = _JSON_OPENING.match(text, body_start)
    if opening:
        try:
            _, json_end = json.JSONDecoder().raw_decode(text, opening.end())
        except (json.JSONDecodeError, RecursionError):  # deep nesting overflows the decoder
            pass
        else:
            after = _AFTER_JSON.match(text, json_end)
            if after:
                return text[body_start:json_end], bool(after.group("closed")), after.end()
    span = _BODY_TO_END.match(text, body_start)
    assert span is not None  # it matches anything, up to the end of the text at worst
    return span.group("body"), bool(span.group("closed")), span.end()


class _BadCall(ValueError):
    def __init__(self, message: str, name: str | None = None) -> None:
        super().__init__(message)
        self.name = name


def _as_tool_call(item: Any, known_names: Collection[str] | None) -> ToolCall:
    if not isinstance(item, Mapping):
        raise _BadCall('a tool call must be a JSON object with "name" and "arguments"')
    name = item.get("name")
    if not isinstance(name, str) or not name.strip():
        raise _BadCall('the tool call has no "name"')
    name = name.strip()
    if known_names is not None and name not in known_names:
        tools = sorted(known_names)
        raise _BadCall(f"there is no tool named {name!r}; the tools are {tools}", name)
    # "parameters" is what Llama 3.1-style models write; OpenAI sends arguments as a string.
    args = item.get("arguments", item.get("parameters"))
    if isinstance(args, str):
        try:
            args = decode_lenient_json(args, closed=True) if args.strip() else None
        except ValueError as exc:
            raise _BadCall(f"the arguments of {name!r} are not valid JSON: {exc}", name) from None
    if args is None:
        args = {}
    if not isinstance(args, Mapping):
        raise _BadCall(f"the arguments of {name!r} must be a JSON object", name)
    return tool_call(name=name, args=dict(args), id=new_call_id())


def _invalid(raw: str, error: str, name: str | None = None) -> InvalidToolCall:
    if name is None:
        # Name the tool the model was reaching for, so the agent can say which call failed.
        guessed = _NAME_FIELD.search(raw)
        name = guessed.group(1) if guessed else None
    return invalid_tool_call(name=name, args=raw, id=new_call_id(), error=error)


def _tidy(prose: str) -> str:
    prose = _ORPHAN_CLOSE.sub("", prose)
    prose = _EMPTY_FENCE.sub("", prose)
    return _BLANK_LINES.sub("\n\n", prose).strip()


# --- lenient JSON ----------------------------------------------------------------------------


def decode_lenient_json(text: str, *, closed: bool) -> Any:
    """The first JSON object or array in `text`, repaired where that is cheap and safe.

    Text around the value is ignored (a code fence, a stray brace after it). Repairs tried in
    turn: trailing commas, Python-style literals (single quotes, True/None), and, only when the
    model closed the call itself (`closed`), missing closing brackets. An unclosed call is most
    likely cut off by the token limit, and guessing the end of its arguments could run a tool
    on half a prompt. Raises ValueError when nothing works.
    """
    start = _first_bracket(text)
    if start < 0:
        raise ValueError("no JSON object found")
    candidate = text[start:]
    candidates = [candidate]
    if closed:
        balanced = _close_brackets(candidate)
        if balanced != candidate:
            candidates.append(balanced)
    first_error: ValueError | None = None
    for attempt in candidates:
        for decode in _DECODERS:
            try:
                return decode(attempt)
            except ValueError as exc:  # json.JSONDecodeError and SyntaxError are ValueErrors
                first_error = first_error or exc
            except RecursionError:  # nesting deeper than any real tool call
                first_error = first_error or ValueError("nested too deeply")
    assert first_error is not None
    raise first_error


def _first_bracket(text: str) -> int:
    positions = [index for index in (text.find("{"), text.find("[")) if index >= 0]
    return min(positions, default=-1)


def _decode_strict(text: str) -> Any:
    return json.JSONDecoder().raw_decode(text)[0]


def _decode_without_trailing_commas(text: str) -> Any:
    # Only tried after strict decoding failed, so a ",}" inside a string is rarely touched.
    return _decode_strict(_TRAILING_COMMA.sub(r"\1", text))


def _decode_python_literal(text: str) -> Any:
    """Single quotes, True/False/None and trailing commas, read by Python's own parser into
    plain data: nothing is evaluated, only literals are accepted."""
    end = max(text.rfind("}"), text.rfind("]"))
    try:
        tree = ast.parse(text[: end + 1], mode="eval")
    except SyntaxError as exc:
        raise ValueError(f"not a JSON or Python literal ({exc.msg})") from None
    return _literal_value(tree.body)


def _literal_value(node: ast.expr) -> Any:
    if isinstance(node, ast.Dict):
        keys = [_literal_value(key) if key is not None else None for key in node.keys]
        if not all(isinstance(key, str) for key in keys):
            raise ValueError("object keys must be strings")
        return {key: _literal_value(value) for key, value in zip(keys, node.values, strict=True)}
    if isinstance(node, ast.List | ast.Tuple):
        return [_literal_value(element) for element in node.elts]
    if isinstance(node, ast.Constant) and isinstance(node.value, str | int | float | None):
        return node.value
    if isinstance(node, ast.Name) and node.id in _LITERAL_NAMES:
        return _LITERAL_NAMES[node.id]
    if (
        isinstance(node, ast.UnaryOp)
        and isinstance(node.op, ast.USub)
        and isinstance(node.operand, ast.Constant)
        and isinstance(node.operand.value, int | float)
    ):
        return -node.operand.value
    raise ValueError(f"{ast.unparse(node)!r} is not a JSON value")


_DECODERS: tuple[Callable[[str], Any], ...] = (
    _decode_strict,
    _decode_without_trailing_commas,
    _decode_python_literal,
)


def _close_brackets(text: str) -> str:
    """`text` with its unclosed braces and brackets closed, or unchanged when that is not a
    safe guess (it ends inside a string, or its brackets are mismatched)."""
    expected: list[str] = []
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "{[":
            expected.append("}" if char == "{" else "]")
        elif char in "}]":
            if not expected or expected.pop() != char:
                return text
            if not expected:
                return text  # the value is complete; anything after it is not ours to fix
    if in_string:
        return text
    return text.rstrip().rstrip(",") + "".join(reversed(expected))
