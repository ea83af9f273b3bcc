"""A call to the local chat model and its finished reply, as both of LocalChatModel's ways of
answering see them (agent/chat/model.py: all at once; local_stream.py: streamed): what the
call asks, the reply as a Completion, and the AIMessage fields made from it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import torch
from langchain_core.messages.ai import UsageMetadata

from agent.chat.toolcalls import ToolRequest, parse_tool_calls

FinishReason = Literal["stop", "length"]


@dataclass(frozen=True)
class GenerationOptions:
    temperature: float
    top_p: float
    max_new_tokens: int
    seed: int | None

    def __post_init__(self) -> None:
        # Per-call overrides skip the pydantic field checks, so check them here.
        if self.temperature < 0 or not 0 < self.top_p <= 1 or self.max_new_tokens < 1:
            raise ValueError(
                "need temperature >= 0, 0 < top_p <= 1 and max_new_tokens >= 1; got "
                f"{self.temperature}, {self.top_p} and {self.max_new_tokens}"
            )

    @property
    def sampling(self) -> bool:
        # Temperature 0 means "always the likeliest token": greedy decoding, not a division by 0.
        return self.temperature > 0


@dataclass(frozen=True)
class Call:
    """What one call asks: the tools offered, the options, its stop strings, the prompt."""

    request: ToolRequest
    options: GenerationOptions
    stops: list[str]
    encoded: Mapping[str, torch.Tensor]

    @property
    def prompt_tokens(self) -> int:
        return int(self.encoded["input_ids"].shape[1])


@dataclass(frozen=True)
class Completion:
    text: str
    input_tokens: int
    output_tokens: int
    finish_reason: FinishReason


def message_fields(completion: Completion, request: ToolRequest, model: str) -> dict[str, Any]:
    """The AIMessage of a finished reply, as fields: what a call returns, and what the last
    chunk of a stream completes."""
    usage = UsageMetadata(
        input_tokens=completion.input_tokens,
        output_tokens=completion.output_tokens,
        total_tokens=completion.input_tokens + completion.output_tokens,
    )
    return {
        **_reply_fields(completion.text, request),
        "usage_metadata": usage,
        "response_metadata": {"model_name": model, "finish_reason": completion.finish_reason},
    }


def _reply_fields(text: str, request: ToolRequest) -> dict[str, Any]:
    """The AIMessage content of a reply, and its tool calls when tools were offered."""
    if not request.offered:
        return {"content": text}
    # The forced prefix was written for the model, so it is part of what the model said.
    parsed = parse_tool_calls(request.forced_prefix + text, known_names=request.names)
    return {
        "content": parsed.content,
        "tool_calls": parsed.tool_calls,
        "invalid_tool_calls": parsed.invalid_tool_calls,
    }


def cut_at_stop(text: str, stop: Sequence[str]) -> tuple[str, bool]:
    """The text before the earliest stop string, and whether one was found."""
    cuts = [index for index in (text.find(s) for s in stop if s) if index >= 0]
    if not cuts:
        return text, False
    return text[: min(cuts)], True
