"""Settings: ATELIER_* environment variables, then an optional atelier.toml, then defaults.

Secrets (tokens) are read from the environment only and are never echoed: a secret written into
atelier.toml is refused, so a config file can be shared without leaking anything.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

ENV_PREFIX = "ATELIER_"
CONFIG_FILE_ENV = "ATELIER_CONFIG"
DEFAULT_CONFIG_FILE = "atelier.toml"
SECRET_FIELDS = frozenset({"discord_token", "chat_api_key"})

Profile = Literal["auto", "tiny", "embedded", "small", "gpu"]
Device = Literal["auto", "cpu", "cuda"]
DType = Literal["auto", "float32", "bfloat16", "float16"]

DEFAULT_SYSTEM_PROMPT = (
    "You are atelier, a warm and curious creative companion in a chat. You help people write "
    "poems, imagine images and music, and talk about art. Answer briefly and concretely."
)


class StartupError(Exception):
    """atelier cannot start; the message is one line an operator can act on (no traceback)."""

    exit_code = 2  # the `atelier` process's exit status (README: Exit codes)


class SettingsError(StartupError):
    """A setting has a value atelier cannot use."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid", frozen=True)

    data_dir: Path = Field(Path("data"), description="where the database, media and caches live")
    database_url: str | None = Field(
        None, description="SQLAlchemy async URL; default: a SQLite file in the data dir"
    )
    models_dir: Path | None = Field(
        None, description="where converted and tiny models are cached; default: <data dir>/models"
    )
    profile: Profile = Field("auto", description="model profile")
    chat_model: str | None = Field(
        None, description="chat model spec: bundled:smollm2, tiny:chat, a directory or a hub id"
    )
    # Per-role specs; unset, the profile decides (poem and critique share the chat model).
    model_poem: str | None = Field(None, description="poem model spec (a text model)")
    model_image: str | None = Field(None, description="image model spec (a diffusers pipeline)")
    model_music: str | None = Field(None, description="music model spec (MusicGen)")
    model_music_melody: str | None = Field(
        None, description="music model spec for following a melody (MusicGen-Melody)"
    )
    model_critique: str | None = Field(None, description="critique model spec (a text model)")
    model_vision: str | None = Field(
        None, description="vision-language model spec for image critique"
    )
    model_clip: str | None = Field(None, description="CLIP model spec for image-prompt similarity")
    model_embedding: str | None = Field(
        None, description="sentence-embedding model spec for a poem's topic score"
    )
    model_memory_budget_mb: int = Field(
        0,
        ge=0,
        description="MiB loaded models may hold before the least recently used are evicted; "
        "0: no limit",
    )
    # The chat backend (agent/chat/backends/): in-process transformers, or a serving engine
    # (vLLM, SGLang, llama.cpp's server, Ollama) over the OpenAI API.
    chat_backend: Literal["local", "openai"] = Field(
        "local", description="local: the chat model in this process; openai: a serving engine"
    )
    chat_base_url: str | None = Field(
        None, pattern=r"^https?://\S+$", description="the engine's OpenAI API, e.g. http://host/v1"
    )
    chat_model_name: str | None = Field(
        None, description="the model the engine serves; unset: the one it lists"
    )
    chat_api_key: SecretStr | None = None
    chat_timeout_s: float = Field(
        60.0, gt=0.0, le=600.0, description="seconds one request to the engine may take"
    )
    chat_compile: bool = Field(
        True, description="on CUDA, a static KV cache and torch.compile for the local chat model"
    )
    device: Device = "auto"
    dtype: DType = "auto"
    temperature: float = Field(0.7, ge=0.0, le=2.0)
    top_p: float = Field(0.9, gt=0.0, le=1.0)
    max_new_tokens: int = Field(200, ge=1, le=4096)
    context_tokens: int = Field(
        1536, ge=256, le=131072, description="token budget of the context window given to the model"
    )
    system_prompt: str = DEFAULT_SYSTEM_PROMPT
    max_message_chars: int = Field(4000, ge=1, le=100_000)
    summary_batch: int = Field(
        24, ge=2, le=1000, description="messages that fall out of the window before a summary"
    )
    jobs_running: int = Field(1, ge=1, le=16, description="tool runs per person at a time")
    jobs_queued: int = Field(2, ge=0, le=64, description="tool runs per person waiting their turn")
    tool_workers: int = Field(
        32, ge=1, le=256, description="threads running tools, for everyone (most wait on models)"
    )
    # The model scheduler (tools/scheduling/): everyone's compatible jobs run as one batch.
    batch_window_ms: int = Field(
        20, ge=0, le=1000, description="how long a job waits for others to batch with"
    )
    batch_max_image: int = Field(8, ge=1, le=64, description="pictures in one image batch")
    batch_max_music: int = Field(8, ge=1, le=64, description="clips in one music batch")
    # Quotas counted from the job ledger (agent/ledger/quotas.py); 0: no limit.
    quota_jobs_per_hour: int = Field(0, ge=0, description="tool runs per person per hour")
    quota_server_jobs_per_hour: int = Field(
        0, ge=0, description="tool runs per server (Discord guild) per hour"
    )
    quota_tool_seconds_per_day: int = Field(
        0, ge=0, description="seconds tools may run per person per day (GPU time on a GPU)"
    )
    # The global queue cap (agent/jobs.py): past it, "busy, try again in about N s".
    jobs_queue_cap: int = Field(
        50, ge=1, le=10_000, description="tool runs in the works for everyone, running or waiting"
    )
    # Where tool runs go (agent/scaleout/): this process, or `atelier worker`s over NATS.
    jobs: str = Field(
        "local",
        pattern=r"^(local|nats://\S+)$",
        description="local: tools run in this process; nats://host:4222: on atelier workers",
    )
    jobs_media: Literal["shared", "object"] = Field(
        "shared",
        description="how a job's files travel: a media directory bot and workers both mount "
        "(shared), or the JetStream object store (object: they share no disk)",
    )
    bot_id: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9_-]{1,64}$",
        description="this bot process's name on NATS (its results); unset: from the host name",
    )
    nats_prefix: str = Field(
        "atelier",
        pattern=r"^[a-z][a-z0-9_]{0,31}$",
        description="the streams' and buckets' prefix: keeps deployments on one NATS apart",
    )
    jobs_ack_wait_s: float = Field(
        30.0,
        ge=1.0,
        le=3600.0,
        description="seconds without a worker's word before its job goes to another worker",
    )
    jobs_max_deliver: int = Field(
        3, ge=2, le=100, description="deliveries of a job before it is given up (a poisoned job)"
    )
    worker_pull: int = Field(
        8, ge=1, le=256, description="jobs one worker takes at once (they batch on its GPU)"
    )
    jobs_remote_patience_s: float = Field(
        3600.0,
        ge=60.0,
        le=7 * 86400.0,
        description="seconds a worker's job may go without a result before a start-up of the "
        "bot reports it interrupted (until then its result may still come)",
    )
    routing: Literal["auto", "tools", "constrained"] = Field(
        "auto",
        description="how free text reaches a tool: the chat model calls tools itself, or "
        "constrained routing scores the choices; auto: by what the chat model can do",
    )
    max_tool_calls: int = Field(3, ge=1, le=20, description="tool calls per turn, at most")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "WARNING"
    # The image tool (tools/image/safety.py and tools/image/memory.py read these).
    image_blocklist: str = Field(
        "", description="comma-separated words or phrases the image tool refuses"
    )
    image_safety_checker: bool = Field(
        False, description="run diffusers' safety checker on every picture (needs its model)"
    )
    image_safety_checker_model: str | None = Field(
        None, description="the safety checker's hub id or directory"
    )
    image_cpu_offload: bool = Field(
        False, description="keep image weights in RAM, each model on the GPU only while it runs"
    )
    image_attention_slicing: Literal["auto", "on", "off"] = "auto"
    image_vae_tiling: Literal["auto", "on", "off"] = "auto"
    image_memory_headroom_mb: int = Field(
        0, ge=0, description="working memory an image run may use; 0: the GPU's free memory"
    )
    # The image fast path on CUDA (tools/image/fast.py, warmup.py) and the tiny decoder
    # (tools/image/decoders.py).
    image_compile: bool = Field(
        True, description="on CUDA, torch.compile the UNet and VAE decoder, warmed at load"
    )
    image_compile_batches: str = Field(
        "1,2,4",
        pattern=r"^\s*\d+(\s*,\s*\d+)*\s*$",
        description="batch sizes compiled at load, e.g. 1,2,4 (others compile on first use)",
    )
    model_image_decoder: str | None = Field(
        None, description="a tiny decoder (AutoencoderTiny): tiny:decoder, a directory, a hub id"
    )
    # A picture as a style reference (tools/image/ip_adapter.py): unset, none can be one.
    model_image_ip_adapter: str | None = Field(
        None,
        description="an IP-Adapter: tiny:ip-adapter, or SOURCE:SUBFOLDER/WEIGHTS like "
        "h94/IP-Adapter:models/ip-adapter_sd15.safetensors",
    )
    image_decoder_use: Literal["previews", "always", "never"] = Field(
        "previews",
        description="pictures the tiny decoder makes: a grid's (previews), every one, or none",
    )
    # Caps on what one run makes (unbounded consumption): lower them to bound a request's cost.
    image_max_pixels: int = Field(
        2048 * 2048,
        ge=64 * 64,
        description="pixels one image request may render, a grid's pictures together",
    )
    music_max_seconds: float = Field(
        30.0, ge=1.0, le=30.0, description="seconds of audio one music run may make"
    )
    # A style trained on a person's pictures (tools/style/): its LoRA's steps, and the caps
    # one training run stops at.
    style_steps: int | None = Field(
        None,
        ge=1,
        le=100_000,
        description="LoRA training steps of a style; unset: 300 on a GPU, 40 on a CPU",
    )
    style_max_steps: int = Field(
        1000, ge=1, le=100_000, description="the most steps one style's training may take"
    )
    style_max_seconds: float = Field(
        # At most the STYLE tool's own cap, so its one line answers before the job's timeout.
        1800.0,
        gt=0.0,
        le=1800.0,
        description="seconds one style's training may run",
    )
    discord_token: SecretStr | None = None
    # Discord (bot/discord/). The two endpoints point the client at another Discord-compatible
    # server (the tests' fake); unset, discord.py's own (discord.com) are used.
    discord_api_base: str | None = Field(
        None, pattern=r"^https?://\S+$", description="REST base URL, e.g. http://host/api/v10"
    )
    discord_gateway_url: str | None = Field(
        None, pattern=r"^wss?://\S+$", description="gateway websocket URL"
    )
    discord_file_limit_mb: int = Field(
        10, ge=1, le=500, description="largest file (MiB) the bot sends or reads from Discord"
    )
    discord_buttons_for_everyone: bool = Field(
        False,
        description="anyone may press the buttons under a piece (not only who asked for it)",
    )
    discord_rate_per_minute: int = Field(
        10, ge=1, le=1000, description="messages, commands and buttons per person per minute"
    )
    # Discord unreachable at start-up (bot/discord/reaching.py): tries, the first wait (doubling).
    discord_connect_attempts: int = Field(
        5, ge=1, le=100, description="tries to reach Discord at start-up before giving up"
    )
    discord_connect_delay_s: float = Field(
        2.0, ge=0.0, le=60.0, description="seconds before the second try; doubles, up to 60"
    )
    # Sharding (bot/discord/sharding.py): unset, one process runs the bot unsharded.
    discord_shard_count: int | None = Field(
        None, ge=1, le=100_000, description="shards the bot is split into, across its processes"
    )
    discord_shard_ids: str | None = Field(
        None, description="the shards this process runs, e.g. 0,1; unset: all of them"
    )

    @field_validator("style_max_steps")
    @classmethod
    def _steps_within_cap(cls, cap: int, info: ValidationInfo) -> int:
        steps = info.data.get("style_steps")
        if steps is not None and steps > cap:
            raise PydanticCustomError("steps", f"must be at least the style steps setting, {steps}")
        return cap

    @field_validator("discord_shard_ids")
    @classmethod
    def _shards_within_count(cls, ids: str | None, info: ValidationInfo) -> str | None:
        # A shard id is 0 to count - 1, once each; Discord closes a wrong one's connection.
        count = info.data.get("discord_shard_count")
        if ids is None:
            return None
        parts = [part.strip() for part in ids.split(",")]
        if not all(part.isascii() and part.isdigit() for part in parts):
            raise PydanticCustomError("shards", "accepts shard numbers with commas, e.g. 0,1")
        numbers = [int(part) for part in parts]
        if count is None:
            raise PydanticCustomError("shards", "shard ids need the shard count set too")
        if max(numbers) >= count or len(set(numbers)) < len(numbers):
            raise PydanticCustomError(
                "shards", f"each id once, from 0 to {count - 1} (the shard count less one)"
            )
        return ids

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_path = Path(os.environ.get(CONFIG_FILE_ENV, DEFAULT_CONFIG_FILE))
        return init_settings, env_settings, _SecretFreeToml(settings_cls, toml_path)

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.data_dir / 'atelier.db'}"

    @property
    def effective_models_dir(self) -> Path:
        return self.models_dir or self.data_dir / "models"

    @property
    def tool_settings(self) -> dict[str, dict[str, Any]]:
        """What each tool reads from ToolContext.settings, by tool name."""
        image = {
            "blocklist": self.image_blocklist,
            "safety_checker": self.image_safety_checker,
            "cpu_offload": self.image_cpu_offload,
            "attention_slicing": self.image_attention_slicing,
            "vae_tiling": self.image_vae_tiling,
            "memory_headroom_mb": self.image_memory_headroom_mb,
            "max_pixels": self.image_max_pixels,
            "compile": self.image_compile,
            "compile_batches": self.image_compile_batches,
            "decoder_use": self.image_decoder_use,
        }
        if self.model_image_decoder:
            image["decoder"] = self.model_image_decoder
        if self.image_safety_checker_model:
            image["safety_checker_model"] = self.image_safety_checker_model
        if self.model_image_ip_adapter:
            image["ip_adapter"] = self.model_image_ip_adapter
        style: dict[str, Any] = {
            "style_max_steps": self.style_max_steps,
            "style_max_seconds": self.style_max_seconds,
        }
        if self.style_steps is not None:  # unset: the STYLE tool's own, by device
            style["style_steps"] = self.style_steps
        return {"image": image, "music": {"max_seconds": self.music_max_seconds}, "style": style}

    @property
    def model_overrides(self) -> dict[str, str | None]:
        """The model spec set for each role (tools.models.specs.ROLES); None: the profile's."""
        return {
            "chat": self.chat_model,
            "poem": self.model_poem,
            "image": self.model_image,
            "music": self.model_music,
            "music_melody": self.model_music_melody,
            "critique": self.model_critique,
            "vision": self.model_vision,
            "clip": self.model_clip,
            "embedding": self.model_embedding,
        }


class _SecretFreeToml(TomlConfigSettingsSource):
    """atelier.toml, refusing secrets: they belong in the environment only."""

    def __init__(self, settings_cls: type[BaseSettings], path: Path) -> None:
        self._path = path
        try:
            if path.exists() and not path.is_file():  # pydantic would skip it without a word
                raise SettingsError(
                    f"the settings file {path} is not a file: point {CONFIG_FILE_ENV} at a "
                    "TOML file, or move it away"
                )
            super().__init__(settings_cls, toml_file=path)
        except OSError as exc:
            raise SettingsError(
                f"cannot read the settings file {path} ({exc.strerror or exc}): make it "
                "readable by the user running atelier"
            ) from None
        except UnicodeDecodeError as exc:
            raise SettingsError(
                f"the settings file {path} is not UTF-8 text (byte {exc.object[exc.start]:#04x} "
                f"at position {exc.start}): save it as UTF-8"
            ) from None

    def __call__(self) -> dict[str, Any]:
        values = super().__call__()
        for key in SECRET_FIELDS & values.keys():
            raise SettingsError(
                f"{key} must not be written in {self._path}: set {ENV_PREFIX}{key.upper()} "
                "in the environment instead"
            )
        return values


def load_settings(**overrides: Any) -> Settings:
    """Read settings; raise SettingsError with one operator-facing line when a value is bad."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise SettingsError(_describe(exc)) from None
    except ValueError as exc:  # a malformed atelier.toml surfaces as a TOML decode error
        raise SettingsError(f"cannot read the settings file: {exc}") from None


def _describe(exc: ValidationError) -> str:
    error = exc.errors()[0]
    field = str(error["loc"][0]) if error["loc"] else "?"
    name = f"{ENV_PREFIX}{field.upper()}"
    if error["type"] == "extra_forbidden":
        return f"unknown setting {field!r} (check the spelling of the key in the settings file)"
    given = error.get("input")
    shown = "<hidden>" if field in SECRET_FIELDS else repr(given)
    return f"invalid setting {name}={shown}: {_accepts(error)}"


def _accepts(error: Any) -> str:
    ctx = error.get("ctx") or {}
    if "expected" in ctx:
        return f"accepts {ctx['expected']}"
    return str(error["msg"]).lower()
