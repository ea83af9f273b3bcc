"""A LangChain chat model over a local transformers causal LM (tools.models.text.LoadedCausalLM).

Generation runs under the loaded model's lock, so one model serves one caller at a time, and
the async path runs it in a worker thread, so the event loop (and Discord's heartbeats) never
waits on the model.

Tool calling follows the Hermes/Qwen text protocol (agent/chat/toolcalls.py): tools bound with
`bind_tools` are shown to the model through its own chat template when that template renders
tools (Qwen2.5 and most tool-tuned models), else through a system-prompt block of our own
(SmolLM2 and the tiny test model); `<tool_call>` blocks in the reply become the AIMessage's
tool_calls, and calls and results in the history are written back the same way. The prompt
itself is rendered in agent/chat/prompting.py; a call and its finished reply are described in
agent/chat/backends/local_reply.py, and a reply streamed in local_stream.py there.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from functools import partial
from typing import Any

import torch
from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LangSmithParams, LanguageModelInput
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool
from pydantic import ConfigDict, Field, SkipValidation

from agent.chat.backends.cuda_speed import compiled_generation
from agent.chat.backends.local_reply import (
    Call,
    Completion,
    GenerationOptions,
    cut_at_stop,
    message_fields,
)
from agent.chat.backends.local_stream import StreamedGeneration, stream_chunks, told_in_thread
from agent.chat.prompting import render_chat
from agent.chat.toolcalls import ToolRequest
from agent.config import Settings
from tools.models.sampling import seeded
from tools.models.text import LoadedCausalLM

# Per-call options accepted through invoke(..., **kwargs) or bind(...).
_CALL_OPTIONS = frozenset({"temperature", "top_p", "max_new_tokens", "seed"})
# Set by bind_tools (or passed per call): tool schemas, and how the model must use them.
_TOOL_OPTIONS = ("tools", "tool_choice")


class LocalChatModel(BaseChatModel):
    """Chat with a locally loaded causal LM through its own chat template."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    # SkipValidation: pydantic would otherwise walk the dataclass and its torch fields.
    loaded: SkipValidation[LoadedCausalLM] = Field(exclude=True)
    temperature: float = Field(0.7, ge=0.0, le=2.0)
    top_p: float = Field(0.9, gt=0.0, le=1.0)
    max_new_tokens: int = Field(200, ge=1)
    seed: int | None = None
    # On CUDA: a static KV cache of at least `cache_tokens` and a compiled decode step
    # (agent/chat/backends/cuda_speed.py); ignored on the CPU.
    compile_on_cuda: bool = True
    cache_tokens: int = Field(0, ge=0)

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
        """Tokens of the prompt exactly as the model would receive it, template and tool
        listing included."""
        return len(self._encode(messages, ToolRequest.build(tools))["input_ids"][0])

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: str | dict[str, Any] | bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """This model with tools offered on every call.

        Tools may be LangChain tools, pydantic models, typed functions or dicts (JSON or
        OpenAI schemas). tool_choice: None or "auto" (the model decides), "none" (tools are
        not shown), "any" or "required" (it must call one), or a tool's name, alone or as
        {"type": "function", "function": {"name": ...}} (it must call that one). A choice
        the model must follow is enforced by starting its reply with the call itself.
        """
        # Built here so that a bad tool or tool_choice fails at bind time, not mid-chat.
        request = ToolRequest.build(tools, tool_choice)
        return self.bind(tools=list(request.schemas), tool_choice=request.choice, **kwargs)

    def prompt_text(
        self,
        messages: Sequence[BaseMessage],
        *,
        tools: Sequence[Any] | None = None,
        tool_choice: str | dict[str, Any] | bool | None = None,
    ) -> str:
        """The prompt exactly as the model receives it, for debugging and tests."""
        request = ToolRequest.build(tools, tool_choice)
        return self._apply_template(messages, request, tokenize=False)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        call = self._call(messages, stop, kwargs)
        completion = self._complete(call)
        message = AIMessage(**message_fields(completion, call.request, self.loaded.spec))
        generation = ChatGeneration(
            message=message, generation_info={"finish_reason": completion.finish_reason}
        )
        return ChatResult(generations=[generation], llm_output={"model_name": self.loaded.spec})

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        """The reply as it is written (agent/chat/backends/local_stream.py): plain text in
        pieces, then one last chunk with the rest of the content, the tool calls and usage.
        LangChain runs this in a worker thread for astream(), one piece at a time."""
        call = self._call(messages, stop, kwargs)
        on_token = run_manager.on_llm_new_token if run_manager else None
        yield from stream_chunks(
            self._streamed(call), call, model=self.loaded.spec, on_token=on_token
        )

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        # The whole stream in one worker thread (the loop never waits on the model).
        stream = partial(self._stream, messages, stop, None, **kwargs)
        async for chunk in told_in_thread(stream, run_manager):
            yield chunk

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

    def _call(
        self, messages: Sequence[BaseMessage], stop: list[str] | None, kwargs: dict[str, Any]
    ) -> Call:
        """A call's tools (bound, or passed per call) taken out of `kwargs`, then the
        per-call options that are left, and the stop strings that are not empty."""
        tool_options = {name: kwargs.pop(name) for name in _TOOL_OPTIONS if name in kwargs}
        request = ToolRequest.build(tool_options.get("tools"), tool_options.get("tool_choice"))
        options = self._options(kwargs)
        stops = [s for s in stop or [] if s]
        return Call(request, options, stops, self._encode(messages, request))

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

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        params = super()._get_ls_params(stop=stop, **kwargs)
        # The model runs on transformers; traces group it with other Hugging Face models.
        params["ls_provider"] = "huggingface"
        # A per-call model= is refused when the call runs (_options), but the trace should
        # still name what the caller asked for, as LangChain's standard tests expect.
        requested = kwargs.get("model")
        params["ls_model_name"] = requested if isinstance(requested, str) else self.loaded.spec
        params["ls_max_tokens"] = kwargs.get("max_new_tokens", self.max_new_tokens)
        return params

    def _encode(
        self, messages: Sequence[BaseMessage], request: ToolRequest
    ) -> Mapping[str, torch.Tensor]:
        return self._apply_template(
            messages,
            request,
            return_tensors="pt",
            return_dict=True,  # input_ids and attention_mask, so generate() need not guess
        )

    def _apply_template(
        self, messages: Sequence[BaseMessage], request: ToolRequest, **template_kwargs: Any
    ) -> Any:
        return render_chat(self.loaded.tokenizer, messages, request, **template_kwargs)

    def _generate_kwargs(self, options: GenerationOptions, stop: list[str]) -> dict[str, Any]:
        loaded = self.loaded
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
        cache_tokens = max(self.cache_tokens, options.max_new_tokens)
        generate_kwargs.update(
            compiled_generation(
                loaded.device, enabled=self.compile_on_cuda, cache_tokens=cache_tokens
            )
        )
        return generate_kwargs

    def _run_generate(
        self, inputs: Mapping[str, torch.Tensor], options: GenerationOptions, **kwargs: Any
    ) -> torch.Tensor:
        loaded = self.loaded
        with loaded.lock, torch.inference_mode(), seeded(options.seed, loaded.device):
            return loaded.model.generate(**inputs, **kwargs)

    def _streamed(self, call: Call) -> StreamedGeneration:
        inputs = {name: tensor.to(self.loaded.device) for name, tensor in call.encoded.items()}
        return StreamedGeneration(
            lambda **kwargs: self._run_generate(inputs, call.options, **kwargs),
            self.loaded.tokenizer,
            **self._generate_kwargs(call.options, call.stops),
        )

    def _complete(self, call: Call) -> Completion:
        loaded, options = self.loaded, call.options
        inputs = {name: tensor.to(loaded.device) for name, tensor in call.encoded.items()}
        prompt_length = inputs["input_ids"].shape[1]
        output = self._run_generate(inputs, options, **self._generate_kwargs(options, call.stops))
        new_tokens = output[0, prompt_length:]
        text = loaded.tokenizer.decode(new_tokens, skip_special_tokens=True)
        text, stopped = cut_at_stop(text, call.stops)
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
        compile_on_cuda=settings.chat_compile,
        cache_tokens=settings.context_tokens + settings.max_new_tokens,
    )


def _ends_with_eos(new_tokens: torch.Tensor, loaded: LoadedCausalLM) -> bool:
    eos = loaded.model.generation_config.eos_token_id
    eos_ids = set(eos) if isinstance(eos, list) else {eos}
    return len(new_tokens) > 0 and int(new_tokens[-1]) in eos_ids
