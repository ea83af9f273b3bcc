"""The `atelier` command: run, chat, worker, models, db upgrade/downgrade/backup/restore.

Start-up problems an operator can fix (a bad setting, an unreachable database, a missing
model, a directory it cannot write) end the process with one line on stderr and exit code 2,
never a traceback; Discord unreachable after every try is exit code 3 (README: Exit codes).
Logs go to stderr through bot/log_redaction.py: no token or password reaches them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from agent.config import Settings, StartupError, load_settings
from agent.store import backup, migrate
from bot.log_redaction import redacting_handler

if TYPE_CHECKING:
    from tools.models.registry import RoleStatus

EXIT_CONFIG = 2  # StartupError.exit_code; 3: Discord unreachable (bot/discord/reaching.py)
TOKEN_ENV = "ATELIER_DISCORD_TOKEN"
FALLBACK_TOKEN_ENV = "DISCORD_TOKEN"


def main(argv: Sequence[str] | None = None) -> int:
    # A bar per model load ("Loading weights ...") tells a person nothing they can act on; the
    # first start's one-time conversion draws its own (tools/models/smollm2.py). Set before
    # transformers is imported, which reads it once.
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    args = _parser().parse_args(argv)
    try:
        settings = load_settings()
        _log_to_stderr(settings)
        return args.handler(settings, args)
    except StartupError as exc:
        print(f"atelier: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130


def _log_to_stderr(settings: Settings) -> None:
    """Every record through the redacting handler. Like basicConfig (which this is), it
    leaves alone a logging set-up it finds already there."""
    handler = redacting_handler(sys.stderr, log_secrets(settings))
    logging.basicConfig(level=settings.log_level, handlers=[handler])


def log_secrets(settings: Settings) -> list[str]:
    """What no log line may show: the bot's token, the chat engine's API key."""
    chat_key = settings.chat_api_key
    return [discord_token(settings) or "", chat_key.get_secret_value() if chat_key else ""]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="atelier", description="Make art together, locally.")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="start the Discord bot (needs ATELIER_DISCORD_TOKEN)")
    run.set_defaults(handler=_run)

    start = commands.add_parser(
        "start", help="the Discord bot when a token is set, else chat in this terminal"
    )
    start.add_argument("--user", default=_os_user(), help="who is speaking in the terminal")
    start.set_defaults(handler=_start)

    chat = commands.add_parser("chat", help="chat in this terminal")
    chat.add_argument("--user", default=_os_user(), help="who is speaking (default: OS user)")
    chat.set_defaults(handler=_chat)

    worker = commands.add_parser(
        "worker",
        help="run tool jobs from NATS (ATELIER_JOBS=nats://...): one process per GPU",
        description="Run the tool jobs bots publish on NATS, for the kinds given. Start one "
        "per GPU, each seeing only its own: CUDA_VISIBLE_DEVICES=0 atelier worker --kinds "
        "image,music, then CUDA_VISIBLE_DEVICES=1 ... SIGTERM stops it: it takes no more "
        "jobs, finishes those it holds within the grace period and hands back the rest.",
    )
    worker.add_argument(
        "--kinds", default="text,image,music,critique", help="job kinds, e.g. image,music"
    )
    worker.add_argument(
        "--grace", type=float, default=30.0, help="seconds to finish held jobs on SIGTERM"
    )
    worker.set_defaults(handler=_worker)

    models = commands.add_parser("models", help="list each role's model (loads none)")
    models.set_defaults(handler=_models)

    status = commands.add_parser(
        "status",
        help="the job queue and its workers, with ATELIER_JOBS=nats://... (exit 3: NATS down)",
    )
    status.set_defaults(handler=_status)

    db = commands.add_parser("db", help="database schema").add_subparsers(dest="db", required=True)
    up = db.add_parser("upgrade", help="migrate to a revision (default: head)")
    up.add_argument("revision", nargs="?", default="head")
    up.set_defaults(handler=_db_upgrade)
    down = db.add_parser("downgrade", help="migrate back to a revision ('base' empties it)")
    down.add_argument("revision")
    down.set_defaults(handler=_db_downgrade)
    save = db.add_parser("backup", help="copy the database to PATH (safe while the bot runs)")
    save.add_argument("path", type=Path)
    save.set_defaults(handler=_db_backup)
    load = db.add_parser(
        "restore", help="replace the database with the backup at PATH (stop the bot first)"
    )
    load.add_argument("path", type=Path)
    load.set_defaults(handler=_db_restore)
    return parser


def _run(settings: Settings, args: argparse.Namespace) -> int:
    token = discord_token(settings)
    if token is None:
        print(
            f"atelier: no Discord bot token: set {TOKEN_ENV} (or {FALLBACK_TOKEN_ENV}) to the "
            "token from the Discord Developer Portal; `atelier chat` chats in this terminal",
            file=sys.stderr,
        )
        return EXIT_CONFIG
    with contextlib.suppress(asyncio.CancelledError):  # stopped by SIGTERM: _stop_on_sigterm
        asyncio.run(_run_discord(settings, token))
    return 0


def _start(settings: Settings, args: argparse.Namespace) -> int:
    """`make run`: a person trying atelier needs no Discord Developer Portal visit; with a
    token it is the bot, without one the terminal chat, after one line on how to go online.
    (`atelier run`, what a service runs, still refuses without a token.)"""
    if discord_token(settings) is not None:
        return _run(settings, args)
    print(
        f"atelier: chatting in this terminal; to run on Discord, set {TOKEN_ENV} to your "
        "bot's token from the Discord Developer Portal",
        file=sys.stderr,
    )
    return _chat(settings, args)


def discord_token(settings: Settings) -> str | None:
    """ATELIER_DISCORD_TOKEN, else DISCORD_TOKEN (the name other bots use); blank is unset."""
    secret = settings.discord_token
    token = "" if secret is None else secret.get_secret_value().strip()
    return token or os.environ.get(FALLBACK_TOKEN_ENV, "").strip() or None


async def _run_discord(settings: Settings, token: str) -> None:
    # Imported here, like the chat model: discord.py, torch and LangChain take a while.
    from agent.factory import open_agent
    from bot.discord.client import run_bot

    _stop_on_sigterm()
    print("atelier: loading the chat model...", file=sys.stderr)
    async with open_agent(settings) as agent:
        print("atelier: connecting to Discord (Ctrl-C stops)", file=sys.stderr)
        await run_bot(agent, settings, token, say=_say)


def _say(line: str) -> None:
    print(f"atelier: {line}", file=sys.stderr)


def _stop_on_sigterm() -> None:
    """`docker stop` and `systemctl stop` send SIGTERM: stop as Ctrl-C does (the bot leaves
    the gateway, running tools are told to stop, the database is closed) instead of dying
    where it stands."""
    main = asyncio.current_task()
    if main is not None:
        with contextlib.suppress(NotImplementedError):  # no signal handlers on Windows' loop
            asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, main.cancel)


def _chat(settings: Settings, args: argparse.Namespace) -> int:
    asyncio.run(_chat_async(settings, args.user))
    return 0


async def _chat_async(settings: Settings, user: str) -> None:
    # Imported here: torch, transformers and LangChain take seconds to import, and a bad
    # setting or `atelier db ...` should not wait for them.
    from agent.factory import open_agent
    from bot.console import ConsoleChat

    interactive = sys.stdin.isatty()
    if interactive:
        print("atelier: loading the chat model...", file=sys.stderr)
    async with open_agent(settings) as agent:
        if interactive:
            print("Type a message, /help for commands, Ctrl-D to leave.", file=sys.stderr)
        await ConsoleChat(agent, user=user, interactive=interactive).run()


def _worker(settings: Settings, args: argparse.Namespace) -> int:
    # Imported here, like the chat model: torch and the tools take seconds to import.
    from agent.scaleout.serving import build_worker, parse_kinds, serve

    worker = build_worker(settings, parse_kinds(args.kinds), grace_s=args.grace)
    asyncio.run(serve(worker))  # NATS not answering at start: StartupError, exit 3
    return 0


def _models(settings: Settings, args: argparse.Namespace) -> int:
    # Imported here, like the chat model: torch and transformers take seconds to import.
    import torch

    from agent.factory import build_model_registry
    from tools.models.specs import resolve_profile

    registry = build_model_registry(settings)  # a listing: it loads nothing
    profile = resolve_profile(settings.profile, torch.cuda.is_available())
    budget_mb = settings.model_memory_budget_mb
    print(f"profile: {profile}" + (" (auto)" if settings.profile == "auto" else ""))
    print(f"device: {_device_and_dtype(settings)}")
    print(f"memory budget: {f'{budget_mb} MiB' if budget_mb else 'no limit'}")
    print(f"models dir: {settings.effective_models_dir}\n")
    table = [("role", "spec", "state", "memory", "setting")]
    for row in registry.describe():
        memory = f"{row.memory_mib:.1f} MiB" if row.loaded and row.memory_mib else "-"
        table.append((row.role, row.spec, _model_state(row), memory, row.setting))
    _print_table(table)
    print("\nRoles with the same spec share one loaded model; each loads on first use.")
    return 0


def _status(settings: Settings, args: argparse.Namespace) -> int:
    """Queue depth per kind, jobs in flight, live workers; NATS unreachable is one line and
    exit 3 (agent/scaleout/status.py raises it as a StartupError)."""
    import time

    from agent.scaleout.setup import transport_from
    from agent.scaleout.status import read_status
    from agent.scaleout.status_table import status_lines

    transport = transport_from(settings)
    if transport is None:
        print(
            "atelier: ATELIER_JOBS is local: jobs run inside the bot process, so there is no "
            "queue or worker to show (ATELIER_JOBS=nats://host:4222 sends them to workers)"
        )
        return 0
    snapshot = asyncio.run(read_status(transport))
    for line in status_lines(snapshot, transport.where, transport.names.prefix, time.time()):
        print(line)
    return 0


def _print_table(table: list[tuple[str, ...]]) -> None:
    widths = [max(len(cells[column]) for cells in table) for column in range(len(table[0]))]
    for cells in table:
        padded = (cell.ljust(width) for cell, width in zip(cells, widths, strict=True))
        print("  ".join(padded).rstrip())


def _device_and_dtype(settings: Settings) -> str:
    from tools.models.devices import DeviceUnavailable, resolve_device, resolve_dtype

    try:
        device = resolve_device(settings.device)
    except DeviceUnavailable as exc:
        return f"{settings.device} ({exc}; set ATELIER_DEVICE to auto or cpu)"
    dtype = str(resolve_dtype(settings.dtype, device)).removeprefix("torch.")
    return f"{device}, dtype {dtype}"


def _model_state(row: RoleStatus) -> str:
    if not row.loadable:
        return "no loader in this version"
    if row.pinned:
        return "loaded (kept)"
    return "loaded" if row.loaded else "not loaded"


def _db_upgrade(settings: Settings, args: argparse.Namespace) -> int:
    migrate.upgrade(settings.effective_database_url, args.revision)
    return 0


def _db_downgrade(settings: Settings, args: argparse.Namespace) -> int:
    migrate.downgrade(settings.effective_database_url, args.revision)
    return 0


def _db_backup(settings: Settings, args: argparse.Namespace) -> int:
    print(f"atelier: {backup.backup(settings.effective_database_url, args.path)}")
    return 0


def _db_restore(settings: Settings, args: argparse.Namespace) -> int:
    print(f"atelier: {backup.restore(settings.effective_database_url, args.path)}")
    return 0


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry, e.g. in some containers
        return "you"


if __name__ == "__main__":
    sys.exit(main())
