"""The chat model the agent talks to, chosen by ATELIER_CHAT_BACKEND, made ready at start-up:
the local model loaded (pinned: it serves every turn) and, on CUDA, warmed so its compiled
decode step is built before anyone waits on it; or the serving engine reached once and its
model named.
"""

from __future__ import annotations

import asyncio
import logging
import time

from langchain_core.messages import HumanMessage

from agent.chat.backends.reach import served_model_name
from agent.chat.backends.served import ServedChatModel, build_served_model
from agent.chat.model import LocalChatModel, build_chat_model
from agent.config import Settings, StartupError
from tools.models.registry import ModelRegistry
from tools.models.specs import CHAT_ROLE, ModelUnavailable
from tools.models.text import LoadedCausalLM

logger = logging.getLogger(__name__)

ChatModel = LocalChatModel | ServedChatModel


async def open_chat_model(settings: Settings, models: ModelRegistry) -> ChatModel:
    """Raises StartupError with one line when the model or its server cannot be had."""
    if settings.chat_backend == "openai":
        return await _served(settings)
    try:
        loaded = await asyncio.to_thread(models.pin, CHAT_ROLE.name)
    except ModelUnavailable as exc:
        raise StartupError(str(exc)) from exc
    if not isinstance(loaded, LoadedCausalLM):
        raise StartupError(f"the chat model {loaded.spec!r} is not a text model")
    model = build_chat_model(settings, loaded)
    if settings.chat_compile and loaded.device.type == "cuda":
        await asyncio.to_thread(warm_up, model)
    return model


async def _served(settings: Settings) -> ServedChatModel:
    if settings.routing == "constrained":
        raise StartupError(
            "ATELIER_ROUTING=constrained scores choices with a model in this process; with "
            "ATELIER_CHAT_BACKEND=openai the engine calls the tools: set ATELIER_ROUTING=auto"
        )
    if not settings.chat_base_url:
        raise StartupError(
            "ATELIER_CHAT_BACKEND=openai needs ATELIER_CHAT_BASE_URL, the engine's OpenAI API "
            "(e.g. http://127.0.0.1:8000/v1)"
        )
    name = await served_model_name(
        settings.chat_base_url, settings.chat_api_key, settings.chat_model_name
    )
    return build_served_model(settings, name)


def warm_up(model: LocalChatModel) -> None:
    """One short reply, so torch.compile builds the decode step now (CUDA only: it takes
    tens of seconds the first time). The time it took is logged for the operator."""
    started = time.perf_counter()
    model.invoke([HumanMessage("Hello")], max_new_tokens=2)
    logger.warning("chat model compiled for CUDA in %.1f s", time.perf_counter() - started)
