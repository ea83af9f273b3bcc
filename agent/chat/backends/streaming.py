"""A chat reply read as the model writes it: each piece of text is added to what came before
and the whole so far handed to the turn's sink (Turn.stream), which shows it. The caller gets
the finished message, as from ainvoke; nothing is stored until then, so a reply cut off midway
(a dropped server) leaves only what the sink showed."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from langchain_core.language_models import LanguageModelInput
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.runnables import Runnable

from agent.types import TextSink


async def reply_streamed(
    model: Runnable[LanguageModelInput, BaseMessage],
    messages: Sequence[BaseMessage],
    sink: TextSink | None,
) -> BaseMessage:
    """The model's reply to `messages`; with a sink, streamed to it on the way."""
    if sink is None:
        return await model.ainvoke(list(messages))
    whole: AIMessageChunk | None = None
    text = ""
    async for chunk in model.astream(list(messages)):
        if not isinstance(chunk, AIMessageChunk):
            continue
        whole = chunk if whole is None else whole + chunk
        if chunk.text:
            text += chunk.text
            sink(text)
    return whole if whole is not None else AIMessage("")


async def state_streamed(
    graph: Runnable[Any, Any], state: dict[str, Any], context: object, sink: TextSink | None
) -> Any:
    """The agent graph's final state (agent/chat/tool_loop.py); with a sink, the text of each
    model call streamed to it as it is written. A call that ends in tool calls shows its words
    until the next call starts writing, which replaces them."""
    if sink is None:
        return await graph.ainvoke(state, context=context)
    final: Any = None
    writing: str | None = None  # the id of the model call being shown
    text = ""
    modes = ["messages", "values"]
    async for mode, data in graph.astream(state, context=context, stream_mode=modes):
        if mode == "values":
            final = data
            continue
        chunk = data[0]
        if not isinstance(chunk, AIMessageChunk) or not chunk.text:
            continue
        if chunk.id != writing:
            writing, text = chunk.id, ""
        text += chunk.text
        sink(text)
    return final
