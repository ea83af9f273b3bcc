"""The `atelier` command: run, chat, db upgrade/downgrade.

Start-up problems an operator can fix (a bad setting, an unreachable database, a missing
model) end the process with one line on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import sys
from collections.abc import Sequence

from agent import migrate
from agent.config import Settings, StartupError, load_settings

EXIT_CONFIG = 2


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings()
        logging.basicConfig(
            level=settings.log_level,
            stream=sys.stderr,
            format="%(levelname)s %(name)s: %(message)s",
        )
        return args.handler(settings, args)
    except StartupError as exc:
        print(f"atelier: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="atelier", description="Make art together, locally.")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="start atelier (Discord when a token is set, else chat)")
    run.set_defaults(handler=_run)

    chat = commands.add_parser("chat", help="chat in this terminal")
    chat.add_argument("--user", default=_os_user(), help="who is speaking (default: OS user)")
    chat.set_defaults(handler=_chat)

    db = commands.add_parser("db", help="database schema").add_subparsers(dest="db", required=True)
    up = db.add_parser("upgrade", help="migrate to a revision (default: head)")
    up.add_argument("revision", nargs="?", default="head")
    up.set_defaults(handler=_db_upgrade)
    down = db.add_parser("downgrade", help="migrate back to a revision ('base' empties it)")
    down.add_argument("revision")
    down.set_defaults(handler=_db_downgrade)
    return parser


def _run(settings: Settings, args: argparse.Namespace) -> int:
    if settings.discord_token is not None:
        print(
            "atelier: the Discord transport is not part of this version yet; "
            "unset ATELIER_DISCORD_TOKEN to chat in the terminal",
            file=sys.stderr,
        )
        return EXIT_CONFIG
    args.user = _os_user()
    return _chat(settings, args)


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


def _db_upgrade(settings: Settings, args: argparse.Namespace) -> int:
    migrate.upgrade(settings.effective_database_url, args.revision)
    return 0


def _db_downgrade(settings: Settings, args: argparse.Namespace) -> int:
    migrate.downgrade(settings.effective_database_url, args.revision)
    return 0


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry, e.g. in some containers
        return "you"


if __name__ == "__main__":
    sys.exit(main())
