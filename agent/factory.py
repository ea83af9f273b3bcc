"""Builds a ready Agent from Settings: database, chat model, memory. The composition root."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import torch

from agent import migrate
from agent.config import Settings, StartupError
from agent.db import create_engine, session_factory
from agent.llm import build_chat_model
from agent.memory import Memory
from agent.service import Agent
from tools.models import ModelUnavailable, default_chat_spec, load_causal_lm


def chat_spec(settings: Settings) -> str:
    return settings.chat_model or default_chat_spec(settings.profile, torch.cuda.is_available())


@asynccontextmanager
async def open_agent(settings: Settings, *, upgrade_database: bool = True) -> AsyncIterator[Agent]:
    """Migrate the database, load the chat model (off the event loop) and yield an Agent.

    Raises StartupError with a one-line reason when the database or the model cannot be had.
    """
    url = settings.effective_database_url
    if upgrade_database:
        await asyncio.to_thread(migrate.upgrade, url)
    try:
        loaded = await asyncio.to_thread(
            load_causal_lm,
            chat_spec(settings),
            cache_dir=settings.effective_models_dir,
            device=settings.device,
            dtype=settings.dtype,
        )
    except ModelUnavailable as exc:
        raise StartupError(str(exc)) from exc
    chat_model = build_chat_model(settings, loaded)
    engine = create_engine(url)
    try:
        yield Agent(
            settings=settings,
            sessions=session_factory(engine),
            chat_model=chat_model,
            memory=Memory(chat_model.count_tokens),
        )
    finally:
        await engine.dispose()
