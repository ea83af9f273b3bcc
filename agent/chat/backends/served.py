"""The chat model in a serving engine (vLLM, SGLang, llama.cpp's server, Ollama), reached over
its OpenAI-compatible API through langchain-openai's ChatOpenAI.

The engine does the tool calling (its own parser for the model's format), so the agent's tool
loop (agent/chat/tool_loop.py) binds the studio's tools to this model as it would to the local
one. Three things differ from a plain ChatOpenAI:

- tokens are counted here, by an estimate (tokens.py), never through tiktoken, which would
  download OpenAI's encodings and count for a different vocabulary anyway;
- a server that cannot be reached, times out or refuses becomes ChatUnavailable with one line
  naming the base URL and what happened (never the key), and is tried once more at most: a
  person waits on it;
- only the Chat Completions API is spoken (what every engine serves), with usage in streams.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any, NoReturn

import httpx2  # what the openai package speaks HTTP with; a dropped stream raises its errors
import openai
from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.messages import BaseMessage
from langchain_core.outputs import ChatGenerationChunk, ChatResult
from langchain_openai import ChatOpenAI
from pydantic import SecretStr

from agent.chat.backends.errors import ChatUnavailable
from agent.chat.backends.tokens import estimate_tokens
from agent.config import Settings, SettingsError

# What vLLM's and llama.cpp's docs pass when the server checks no key: the client needs one.
NO_KEY = "EMPTY"
# Per-message overhead of a chat template (role markers, separators), also an estimate.
TOKENS_PER_MESSAGE = 4
_FAILURES = (openai.APIError, httpx2.TransportError)


class ServedChatModel(ChatOpenAI):
    """ChatOpenAI for an OpenAI-compatible engine: estimated token counts, one-line failures."""

    @property
    def _llm_type(self) -> str:
        return "atelier-served"

    def count_tokens(self, text: str) -> int:
        return estimate_tokens(text)

    def get_num_tokens(self, text: str) -> int:
        return estimate_tokens(text)

    def get_token_ids(self, text: str) -> list[int]:
        raise NotImplementedError("the served model's token ids are the server's; use counts")

    def get_num_tokens_from_messages(
        self,
        messages: Sequence[BaseMessage],
        tools: Sequence[Any] | None = None,
        **_: Any,
    ) -> int:
        return sum(TOKENS_PER_MESSAGE + estimate_tokens(str(m.text)) for m in messages)

    def _get_encoding_model(self) -> NoReturn:
        # Every tiktoken path in ChatOpenAI goes through here: none may fetch an encoding.
        raise NotImplementedError("token counts of a served model are estimated (tokens.py)")

    def _get_request_payload(
        self, input_: Any, *, stop: list[str] | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        payload = super()._get_request_payload(input_, stop=stop, **kwargs)
        # OpenAI renamed it; engines (llama.cpp's server, Ollama) read the classic name.
        if "max_completion_tokens" in payload:
            payload["max_tokens"] = payload.pop("max_completion_tokens")
        return payload

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        try:
            return super()._generate(messages, stop, run_manager, **kwargs)
        except _FAILURES as error:
            raise self._unavailable(error) from None

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        try:
            return await super()._agenerate(messages, stop, run_manager, **kwargs)
        except _FAILURES as error:
            raise self._unavailable(error) from None

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        try:
            yield from super()._stream(messages, stop, run_manager, **kwargs)
        except _FAILURES as error:
            raise self._unavailable(error) from None

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        try:
            async for chunk in super()._astream(messages, stop, run_manager, **kwargs):
                yield chunk
        except _FAILURES as error:
            raise self._unavailable(error) from None

    def _unavailable(self, error: BaseException) -> ChatUnavailable:
        base = str(self.openai_api_base)
        return ChatUnavailable(failure_line(base, error, self.openai_api_key, self.request_timeout))


def failure_line(
    base_url: str, error: BaseException, key: SecretStr | None, timeout_s: object = None
) -> str:
    """One line on why the engine at `base_url` did not answer; the key never appears in it."""
    where = f"the chat server at {base_url}"
    if isinstance(error, openai.APITimeoutError | httpx2.TimeoutException):
        line = f"{where} did not answer within {timeout_s} s (ATELIER_CHAT_TIMEOUT_S)"
    elif isinstance(error, openai.AuthenticationError | openai.PermissionDeniedError):
        line = f"{where} refused the API key ({error.status_code}): set ATELIER_CHAT_API_KEY"
    elif isinstance(error, openai.NotFoundError):
        line = f"{where} has no such model or route (404): check ATELIER_CHAT_MODEL_NAME"
    elif isinstance(error, openai.APIStatusError):
        line = f"{where} answered {error.status_code}: {_excerpt(error.message)}"
    else:
        line = f"{where} is unreachable ({_cause(error)}): start it, or fix ATELIER_CHAT_BASE_URL"
    secret = key.get_secret_value() if key is not None else ""
    return line.replace(secret, "<redacted>") if secret and secret != NO_KEY else line


def _cause(error: BaseException) -> str:
    # openai's own message is "Connection error."; the transport's says what happened.
    cause = error.__cause__ or error
    return _excerpt(str(cause) or type(cause).__name__)


def _excerpt(text: str, limit: int = 120) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def build_served_model(settings: Settings, model_name: str) -> ServedChatModel:
    """The engine's chat model with the operator's sampling settings."""
    if not settings.chat_base_url:
        raise SettingsError(
            "ATELIER_CHAT_BACKEND=openai needs ATELIER_CHAT_BASE_URL, the engine's OpenAI API "
            "(e.g. http://127.0.0.1:8000/v1)"
        )
    return ServedChatModel(
        model=model_name,
        base_url=settings.chat_base_url,
        # Never OPENAI_API_KEY from the environment: that key is for OpenAI, not this server.
        api_key=settings.chat_api_key or SecretStr(NO_KEY),
        temperature=settings.temperature,
        top_p=settings.top_p,
        max_completion_tokens=settings.max_new_tokens,
        timeout=settings.chat_timeout_s,
        max_retries=1,
        stream_usage=True,
        use_responses_api=False,
    )
