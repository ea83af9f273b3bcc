"""Builds a ready Agent from Settings: database, chat model, memory, tools and how free text
reaches them. The composition root."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Literal

import torch
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agent.chat.backends.opening import ChatModel, open_chat_model
from agent.chat.model import LocalChatModel
from agent.chat.prompting import template_supports_tools
from agent.chat.replies import ChatReplies
from agent.chat.routing import ConstrainedRouter
from agent.chat.tool_loop import ToolLoop
from agent.config import Settings
from agent.jobs import JobLimits, Jobs
from agent.ledger.interrupted import mark_interrupted
from agent.ledger.quotas import Quotas
from agent.ledger.record import JobLedger
from agent.making.decisions import AlwaysAnswer, Router
from agent.making.studio import Studio
from agent.scaleout.runner import open_runner
from agent.scaleout.unclaimed import on_unclaimed
from agent.store import migrate
from agent.store.engine import create_engine, session_factory
from agent.store.media import MediaStore
from agent.store.memory import Memory
from agent.store.sweep import sweep_media
from agent.store.writable import check_writable_directories
from agent.turns import Agent
from tools.contract import ModelSource, Tool
from tools.image.png_pool import shutdown_png_pool
from tools.lineup import creative_tools
from tools.models.registry import ModelRegistry, RegistryConfig
from tools.models.specs import CHAT_ROLE, IMAGE_ROLE, ModelKind, ModelUnavailable, role_specs
from tools.models.text import LoadedCausalLM
from tools.scheduling.queue import Batching
from tools.units import MIB

logger = logging.getLogger(__name__)


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
        loader_settings={ModelKind.IMAGE: settings.tool_settings["image"]},
    )
    return ModelRegistry(config)


@asynccontextmanager
async def open_agent(settings: Settings, *, upgrade_database: bool = True) -> AsyncIterator[Agent]:
    """Migrate the database, load the chat model (off the event loop) and yield an Agent.

    Raises StartupError with a one-line reason when the database or the model cannot be had.
    """
    url = settings.effective_database_url
    await asyncio.to_thread(check_writable_directories, settings)
    if upgrade_database:
        await asyncio.to_thread(migrate.upgrade, url)
    models = build_model_registry(settings)
    # In this process (pinned: it serves every turn) or in a serving engine (backends/).
    chat_model = await open_chat_model(settings, models)
    await warm_image_model(settings, models)
    engine = create_engine(url)
    sessions = session_factory(engine)
    try:
        await settle_what_was_left(settings, sessions)
    except BaseException:
        await engine.dispose()
        raise
    # ATELIER_JOBS=nats://...: tool runs go to `atelier worker`s (agent/scaleout/).
    runner = await open_runner(settings)
    jobs = Jobs(job_limits(settings), runner=runner)
    try:
        agent = assemble_agent(
            settings,
            sessions=sessions,
            chat_model=chat_model,
            tools=creative_tools(),
            models=models,
            jobs=jobs,
        )
        if runner is not None:  # set before the first await: results may be waiting already
            runner.on_unclaimed = on_unclaimed(agent.unclaimed, runner)
        yield agent
    finally:
        jobs.shutdown()
        if runner is not None:
            await runner.close()
        await asyncio.to_thread(shutdown_png_pool)
        await engine.dispose()


async def settle_what_was_left(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """What an earlier process left, settled before this one takes a turn or a result."""
    remote = settings.jobs != "local"
    # A file no piece points at is a crash's leftover, unless NATS workers write results into
    # this media directory: then it may be a result still waiting to be delivered.
    if not (remote and settings.jobs_media == "shared"):
        await sweep_media(sessions, media_store(settings))
    # The jobs still running were an earlier process's, stopped by its end; a NATS worker's
    # may still finish, so it is left running for a while (agent/ledger/interrupted.py).
    patience = timedelta(seconds=settings.jobs_remote_patience_s) if remote else None
    await mark_interrupted(sessions, remote_patience=patience)


async def warm_image_model(settings: Settings, models: ModelRegistry) -> None:
    """On CUDA the image model compiles and warms up as it loads (tools/image/fast.py, a
    minute or more): load it at start-up rather than in the first person's turn. One that
    cannot be had is logged in one line; image requests then say why, as they would anyway."""
    if not (settings.image_compile and settings.device != "cpu" and torch.cuda.is_available()):
        return
    try:
        await asyncio.to_thread(models.get, IMAGE_ROLE.name)
    except ModelUnavailable as exc:
        logger.warning("%s", exc)


def assemble_agent(
    settings: Settings,
    *,
    sessions: async_sessionmaker[AsyncSession],
    chat_model: ChatModel,
    tools: Sequence[Tool],
    models: ModelSource,
    jobs: Jobs,
) -> Agent:
    """The Agent over a ready database, chat model and tools (the app and bench/ share it)."""
    memory = Memory(chat_model.count_tokens)
    studio = Studio(
        tools=tools,
        jobs=jobs,
        models=models,
        media=media_store(settings),
        tool_settings=settings.tool_settings,
        ledger=JobLedger(sessions, quotas(settings), remote=settings.jobs != "local"),
    )
    local = chat_model.loaded if isinstance(chat_model, LocalChatModel) else None
    mode = routing_mode(settings.routing, local)
    constrained = mode == "constrained" and bool(tools) and local is not None
    # Routing's forward passes go through the model scheduler: requests of one moment batch.
    routing_lane = jobs.scheduler.lane("routing")
    router: Router = ConstrainedRouter(local, routing_lane) if constrained else AlwaysAnswer()
    loop = None
    if mode == "tools" and tools:
        loop = ToolLoop(chat_model, studio, max_tool_calls=settings.max_tool_calls)
    replies = ChatReplies(
        settings=settings, sessions=sessions, chat_model=chat_model, memory=memory
    )
    return Agent(
        settings=settings,
        sessions=sessions,
        memory=memory,
        studio=studio,
        replies=replies,
        router=router,
        tool_loop=loop,
    )


def job_limits(settings: Settings) -> JobLimits:
    return JobLimits(
        running=settings.jobs_running,
        queued=settings.jobs_queued,
        workers=settings.tool_workers,
        queue_cap=settings.jobs_queue_cap,
        batching=Batching(
            window_s=settings.batch_window_ms / 1000,
            max_size=(("image", settings.batch_max_image), ("music", settings.batch_max_music)),
        ),
    )


def quotas(settings: Settings) -> Quotas:
    return Quotas(
        person_jobs_per_hour=settings.quota_jobs_per_hour,
        server_jobs_per_hour=settings.quota_server_jobs_per_hour,
        person_tool_seconds_per_day=settings.quota_tool_seconds_per_day,
    )


def media_store(settings: Settings) -> MediaStore:
    return MediaStore(settings.data_dir / "media")


def routing_mode(setting: str, loaded: LoadedCausalLM | None) -> Literal["tools", "constrained"]:
    """How free text reaches a tool. auto: native tool calling when the chat model's own
    template carries tools in the form we parse (the gpu profile's Qwen2.5), else constrained
    routing (SmolLM2 in the tiny, embedded and small profiles: it cannot call tools). A
    serving engine (`loaded` None) calls tools itself."""
    if setting == "tools" or setting == "constrained":
        return setting
    if loaded is None:
        return "tools"
    return "tools" if template_supports_tools(loaded.tokenizer) else "constrained"
