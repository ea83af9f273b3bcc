"""Builds a ready Agent from Settings: database, chat model, memory. The composition root."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import torch

from agent import migrate
from agent.config import Settings, StartupError
from agent.creations import Creations
from agent.db import create_engine, session_factory
from agent.jobs import JobLimits, Jobs
from agent.llm import build_chat_model
from agent.media import MediaStore
from agent.memory import Memory
from agent.service import Agent
from agent.studio import Studio
from tools.model_registry import MIB, ModelRegistry, RegistryConfig
from tools.models import CHAT_ROLE, LoadedCausalLM, ModelUnavailable, role_specs
from tools.registry import creative_tools


def model_specs(settings: Settings) -> dict[str, str]:
    """Each role's spec: its setting where set, else the profile's choice."""
    return role_specs(settings.profile, torch.cuda.is_available(), settings.model_overrides)


def chat_spec(settings: Settings) -> str:
    return model_specs(settings)[CHAT_ROLE.name]


def build_model_registry(settings: Settings) -> ModelRegistry:
    """The registry of every role's model; it loads nothing until a role is asked for."""
    config = RegistryConfig(
        specs=model_specs(settings),
        models_dir=settings.effective_models_dir,
        device=settings.device,
        dtype=settings.dtype,
        memory_budget_bytes=settings.model_memory_budget_mb * MIB,
    )
    return ModelRegistry(config)


@asynccontextmanager
async def open_agent(settings: Settings, *, upgrade_database: bool = True) -> AsyncIterator[Agent]:
    """Migrate the database, load the chat model (off the event loop) and yield an Agent.

    Raises StartupError with a one-line reason when the database or the model cannot be had.
    """
    url = settings.effective_database_url
    if upgrade_database:
        await asyncio.to_thread(migrate.upgrade, url)
    models = build_model_registry(settings)
    try:
        # Pinned: the chat model serves every turn, so evicting it would free nothing.
        loaded = await asyncio.to_thread(models.pin, CHAT_ROLE.name)
    except ModelUnavailable as exc:
        raise StartupError(str(exc)) from exc
    if not isinstance(loaded, LoadedCausalLM):
        raise StartupError(f"the chat model {loaded.spec!r} is not a text model")
    chat_model = build_chat_model(settings, loaded)
    engine = create_engine(url)
    sessions = session_factory(engine)
    memory = Memory(chat_model.count_tokens)
    media = MediaStore(settings.data_dir / "media")
    jobs = Jobs(JobLimits(settings.jobs_running, settings.jobs_queued, settings.tool_workers))
    creations = Creations(sessions=sessions, memory=memory, media=media, jobs=jobs, models=models)
    studio = Studio(tools=creative_tools(), creations=creations, sessions=sessions)
    try:
        yield Agent(
            settings=settings,
            sessions=sessions,
            chat_model=chat_model,
            memory=memory,
            studio=studio,
            media=media,
        )
    finally:
        jobs.shutdown()
        await engine.dispose()
