"""A LangChain chat model over a local transformers causal LM (tools.models.LoadedCausalLM).

Generation runs under the loaded model's lock, so one model serves one caller at a time, and
the async path runs it in a worker thread, so the event loop (and Discord's heartbeats) never
waits on the model. Tool calling (bind_tools, `<tool_call>` parsing) is not implemented yet.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

import torch
from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    ChatMessage,
    HumanMessage,
    SystemMessage,
)
from langchain_core.messages.ai import UsageMetadata
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import ConfigDict, Field, SkipValidation

from agent.config import Settings
from tools.models import LoadedCausalLM

FinishReason = Literal["stop", "length"]
# Per-call options accepted through invoke(..., **kwargs) or bind(...).
_CALL_OPTIONS = frozenset({"temperature", "top_p", "max_new_tokens", "seed"})


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
class Completion:
    text: str
    input_tokens: int
    output_tokens: int
    finish_reason: FinishReason


class LocalChatModel(BaseChatModel):
    """Chat with a locally loaded causal LM through its own chat template."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    # SkipValidation: pydantic would otherwise walk the dataclass and its torch fields.
    loaded: SkipValidation[LoadedCausalLM] = Field(exclude=True)
    temperature: float = Field(0.7, ge=0.0, le=2.0)
    top_p: float = Field(0.9, gt=0.0, le=1.0)
    max_new_tokens: int = Field(200, ge=1)
    seed: int | None = None

    @property
    def _llm_type(self) -> str:
        return "atelier-local"

    @property
    def _identifying_params(self) -> Mapping[str, Any]:
        return {
            "model": self.loaded.spec,
            "device": str(self.loaded.device),
            "dtype": str(self.loaded.dtype).removeprefix("torch."),
            "temperature": self.temperature,
            "top_p": self.top_p,
            "max_new_tokens": self.max_new_tokens,
            "seed": self.seed,
        }

    def count_tokens(self, text: str) -> int:
        return self.loaded.count_tokens(text)

    def get_num_tokens(self, text: str) -> int:
        return self.loaded.count_tokens(text)

    def get_num_tokens_from_messages(
        self, messages: list[BaseMessage], tools: Sequence[Any] | None = None
    ) -> int:
        """Tokens of the prompt exactly as the model would receive it, template included."""
        if tools:
            raise NotImplementedError("tool calling is not supported by LocalChatModel yet")
        return len(self._encode(messages)["input_ids"][0])

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        options = self._options(kwargs)
        completion = self._complete(messages, options, [s for s in stop or [] if s])
        usage = UsageMetadata(
            input_tokens=completion.input_tokens,
            output_tokens=completion.output_tokens,
            total_tokens=completion.input_tokens + completion.output_tokens,
        )
        message = AIMessage(
            content=completion.text,
            usage_metadata=usage,
            response_metadata={
                "model_name": self.loaded.spec,
                "finish_reason": completion.finish_reason,
            },
        )
        generation = ChatGeneration(
            message=message, generation_info={"finish_reason": completion.finish_reason}
        )
        return ChatResult(generations=[generation], llm_output={"model_name": self.loaded.spec})

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        # A worker thread: generation takes seconds, and a blocked loop stops the gateway
        # heartbeats. to_thread (not run_in_executor) so the caller's contextvars follow.
        sync_manager = run_manager.get_sync() if run_manager else None
        return await asyncio.to_thread(self._generate, messages, stop, sync_manager, **kwargs)

    def _options(self, overrides: Mapping[str, Any]) -> GenerationOptions:
        unknown = overrides.keys() - _CALL_OPTIONS
        if unknown:
            raise TypeError(
                f"LocalChatModel does not accept {sorted(unknown)}; "
                f"per-call options are {sorted(_CALL_OPTIONS)}"
            )
        return GenerationOptions(
            temperature=overrides.get("temperature", self.temperature),
            top_p=overrides.get("top_p", self.top_p),
            max_new_tokens=overrides.get("max_new_tokens", self.max_new_tokens),
            seed=overrides.get("seed", self.seed),
        )

    def _encode(self, messages: Sequence[BaseMessage]) -> Mapping[str, torch.Tensor]:
        return self.loaded.tokenizer.apply_chat_template(
            to_chat_dicts(messages),
            add_generation_prompt=True,
            return_tensors="pt",
            return_dict=True,  # input_ids and attention_mask, so generate() need not guess
        )

    def _complete(
        self, messages: Sequence[BaseMessage], options: GenerationOptions, stop: list[str]
    ) -> Completion:
        loaded = self.loaded
        inputs = {name: tensor.to(loaded.device) for name, tensor in self._encode(messages).items()}
        prompt_length = inputs["input_ids"].shape[1]
        generate_kwargs: dict[str, Any] = {
            "max_new_tokens": options.max_new_tokens,
            "pad_token_id": loaded.tokenizer.pad_token_id,
            "do_sample": options.sampling,
        }
        if options.sampling:
            generate_kwargs.update(temperature=options.temperature, top_p=options.top_p)
        if stop:
            # Ends generation early on a stop string; the text is cut at it below.
            generate_kwargs.update(stop_strings=stop, tokenizer=loaded.tokenizer)
        with loaded.lock, torch.inference_mode(), _seeded(options.seed, loaded.device):
            output = loaded.model.generate(**inputs, **generate_kwargs)
        new_tokens = output[0, prompt_length:]
        text = loaded.tokenizer.decode(new_tokens, skip_special_tokens=True)
        text, stopped = cut_at_stop(text, stop)
        ended = stopped or _ends_with_eos(new_tokens, loaded)
        return Completion(
            text=text.strip(),
            input_tokens=prompt_length,
            output_tokens=len(new_tokens),
            finish_reason="stop" if ended or len(new_tokens) < options.max_new_tokens else "length",
        )


def build_chat_model(settings: Settings, loaded: LoadedCausalLM) -> LocalChatModel:
    return LocalChatModel(
        loaded=loaded,
        temperature=settings.temperature,
        top_p=settings.top_p,
        max_new_tokens=settings.max_new_tokens,
    )


_ROLES: tuple[tuple[type[BaseMessage], str], ...] = (
    (SystemMessage, "system"),
    (HumanMessage, "user"),
    (AIMessage, "assistant"),
)


def to_chat_dicts(messages: Sequence[BaseMessage]) -> list[dict[str, str]]:
    """LangChain messages as chat-template dicts. Only text reaches the model: non-text
    content blocks (images) are the agent's business, not the LLM's."""
    return [{"role": _role(message), "content": str(message.text)} for message in messages]


def _role(message: BaseMessage) -> str:
    if isinstance(message, ChatMessage):
        return message.role
    for kind, role in _ROLES:
        if isinstance(message, kind):
            return role
    raise ValueError(
        f"LocalChatModel cannot send a {type(message).__name__} to the model "
        "(system, human, AI and chat messages only; tool messages come with tool calling)"
    )


def cut_at_stop(text: str, stop: Sequence[str]) -> tuple[str, bool]:
    """The text before the earliest stop string, and whether one was found."""
    cuts = [index for index in (text.find(s) for s in stop if s) if index >= 0]
    if not cuts:
        return text, False
    return text[: min(cuts)], True


def _ends_with_eos(new_tokens: torch.Tensor, loaded: LoadedCausalLM) -> bool:
    eos = loaded.model.generation_config.eos_token_id
    eos_ids = set(eos) if isinstance(eos, list) else {eos}
    return len(new_tokens) > 0 and int(new_tokens[-1]) in eos_ids


@contextmanager
def _seeded(seed: int | None, device: torch.device) -> Iterator[None]:
    """Seed sampling for one call without touching the process's random state.

    generate() takes no torch.Generator, so fork the global RNG and seed the fork. The lock
    held around this keeps other generations on the same model out; other models sampling
    at the same moment in other threads can still interleave with the global state.
    """
    if seed is None:
        yield
        return
    with torch.random.fork_rng(devices=_cuda_indices(device)):
        torch.manual_seed(seed)
        yield


def _cuda_indices(device: torch.device) -> list[int]:
    if device.type != "cuda":
        return []
    return [device.index if device.index is not None else torch.cuda.current_device()]
