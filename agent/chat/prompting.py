"""How a conversation becomes the local chat model's prompt: LangChain messages as chat-template
dicts, offered tools either through the template itself (when it renders tools in the
`<tool_call>` form, found by a probe) or as a system-prompt block of our own, and a reply the
model must continue when a tool call is forced. agent/chat/model.py generates from it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from jinja2 import TemplateError
from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    ChatMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from transformers import PreTrainedTokenizerBase

from agent.chat.toolcalls import (
    CALL_OPEN,
    ToolRequest,
    render_invalid_tool_call,
    render_tool_call,
    render_tool_response,
    tools_system_block,
)

logger = logging.getLogger(__name__)


def render_chat(
    tokenizer: PreTrainedTokenizerBase,
    messages: Sequence[BaseMessage],
    request: ToolRequest,
    **template_kwargs: Any,
) -> Any:
    """Render (and, by default, tokenize) the chat through the model's chat template, with
    the offered tools where the template takes them, else in the system prompt."""
    tool_traffic = request.offered or any(is_tool_traffic(m) for m in messages)
    native = tool_traffic and template_supports_tools(tokenizer)
    conversation = to_chat_dicts(messages, native_tools=native)
    if request.offered and not native:
        conversation = with_system_block(conversation, tools_system_block(request.schemas))
    prefix = request.forced_prefix
    if prefix:
        # The model continues a reply that already opens the call it must make.
        conversation.append({"role": "assistant", "content": prefix})
        template_kwargs["continue_final_message"] = True
    else:
        template_kwargs["add_generation_prompt"] = True
    tools = list(request.schemas) if native and request.offered else None
    return tokenizer.apply_chat_template(conversation, tools=tools, **template_kwargs)


_ROLES: tuple[tuple[type[BaseMessage], str], ...] = (
    (SystemMessage, "system"),
    (HumanMessage, "user"),
    (AIMessage, "assistant"),
)


def to_chat_dicts(
    messages: Sequence[BaseMessage], *, native_tools: bool = False
) -> list[dict[str, Any]]:
    """LangChain messages as chat-template dicts. Only text reaches the model: non-text
    content blocks (images) are the agent's business, not the LLM's.

    With `native_tools` (the template renders tools itself) tool calls go in the assistant's
    `tool_calls` field and results in role "tool" messages, for the template to write in the
    form its model was trained on. Otherwise calls are written as `<tool_call>` text in the
    assistant's turn and results as `<tool_response>` blocks in a user turn: the form the
    project's tool prompt teaches, and one any template can carry.
    """
    chat: list[dict[str, Any]] = []
    previous_was_tool = False
    for message in messages:
        if isinstance(message, ToolMessage) and not native_tools:
            block = render_tool_response(str(message.text))
            if previous_was_tool:
                # The results of one turn's calls share one user turn, as in Qwen's template;
                # templates that insist on alternating roles would refuse two in a row.
                chat[-1]["content"] += "\n" + block
            else:
                chat.append({"role": "user", "content": block})
        else:
            chat.append(_chat_dict(message, native_tools))
        previous_was_tool = isinstance(message, ToolMessage)
    return chat


def _chat_dict(message: BaseMessage, native_tools: bool) -> dict[str, Any]:
    text = str(message.text)
    if isinstance(message, ToolMessage):
        return {
            "role": "tool",
            "content": text,
            "tool_call_id": message.tool_call_id,
            "name": message.name,  # None is dropped by apply_chat_template
        }
    if not isinstance(message, AIMessage) or not is_tool_traffic(message):
        return {"role": _role(message), "content": text}
    # A malformed call has no structured form: the model sees what it wrote, as text.
    invalid = [render_invalid_tool_call(call) for call in message.invalid_tool_calls]
    if not native_tools:
        calls = [render_tool_call(call["name"], call["args"]) for call in message.tool_calls]
        return {"role": "assistant", "content": _joined_lines(text, *calls, *invalid)}
    assistant: dict[str, Any] = {"role": "assistant", "content": _joined_lines(text, *invalid)}
    if message.tool_calls:
        assistant["tool_calls"] = [
            {
                "id": call["id"],
                "type": "function",
                "function": {"name": call["name"], "arguments": call["args"]},
            }
            for call in message.tool_calls
        ]
    return assistant


def _joined_lines(*parts: str) -> str:
    return "\n".join(part for part in parts if part)


def is_tool_traffic(message: BaseMessage) -> bool:
    if isinstance(message, ToolMessage):
        return True
    return isinstance(message, AIMessage) and bool(message.tool_calls or message.invalid_tool_calls)


def _role(message: BaseMessage) -> str:
    if isinstance(message, ChatMessage):
        return message.role
    for kind, role in _ROLES:
        if isinstance(message, kind):
            return role
    raise ValueError(
        f"LocalChatModel cannot send a {type(message).__name__} to the model "
        "(system, human, AI, tool and chat messages only)"
    )


def with_system_block(conversation: list[dict[str, Any]], block: str) -> list[dict[str, Any]]:
    """The conversation with `block` at the end of its system prompt (one is added if there
    is none). Appended rather than prepended: the operator's persona comes first."""
    if conversation and conversation[0]["role"] == "system":
        first = conversation[0]
        merged = "\n\n".join(part for part in (first["content"], block) if part)
        return [{**first, "content": merged}, *conversation[1:]]
    return [{"role": "system", "content": block}, *conversation]


# Marks the probe's pieces so they can be found in whatever the template makes of them.
_PROBE_MARK = "atelier-probe-5f1c"
_PROBE_TOOL: Mapping[str, Any] = {
    "type": "function",
    "function": {
        "name": "probe",
        "description": f"description-{_PROBE_MARK}",
        "parameters": {"type": "object", "properties": {"x": {"type": "string"}}},
    },
}
_PROBE_EXCHANGE: Sequence[Mapping[str, Any]] = (
    {"role": "user", "content": "hello"},
    {
        "role": "assistant",
        "content": "",
        "tool_calls": [
            {
                "id": "call_probe",
                "type": "function",
                "function": {"name": "probe", "arguments": {"x": f"argument-{_PROBE_MARK}"}},
            }
        ],
    },
    {"role": "tool", "content": f"result-{_PROBE_MARK}", "tool_call_id": "call_probe"},
)


def template_supports_tools(tokenizer: PreTrainedTokenizerBase) -> bool:
    """Whether the chat template itself renders a tool listing, assistant tool calls and
    tool results (role "tool"), in the `<tool_call>` form that replies are parsed in.

    A template whose model calls tools in another form (Llama 3's bare JSON, Mistral's
    [TOOL_CALLS]) gets the project's prompt instead: the model is then asked for the form
    the parser reads. Support is found by rendering a small tool exchange and looking for
    each piece in the result, not guessed from the source alone: some templates mention
    tools and still drop them or refuse the "tool" role. Templates that never mention tools
    are answered without rendering; the render costs about a millisecond.
    """
    try:
        source = tokenizer.get_chat_template(tools=[dict(_PROBE_TOOL)])
    except ValueError:  # no template at all, or several and none the default
        return False
    if "tools" not in source or CALL_OPEN not in source:
        return False
    try:
        rendered = tokenizer.apply_chat_template(
            [dict(message) for message in _PROBE_EXCHANGE],
            tools=[dict(_PROBE_TOOL)],
            tokenize=False,
            add_generation_prompt=True,
        )
    except (TemplateError, ValueError, TypeError, KeyError) as exc:
        logger.debug("chat template cannot render a tool exchange (%s): using ours", exc)
        return False
    pieces = ("description", "argument", "result")
    return all(f"{piece}-{_PROBE_MARK}" in rendered for piece in pieces)
