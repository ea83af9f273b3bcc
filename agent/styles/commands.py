"""/style: `train` is the STYLE tool's run (a background job like every tool run, through
the studio); `list` and `delete NAME` are answered here, from the store, with no tool.

A command reaches the agent as `Command("style", {"action": "list"})` (Discord's subcommands,
the console's `/style list`) or with the action as the first word of its text. `train`
becomes the STYLE tool's own command (`as_tool_command`): the action dropped, and the pieces
given as text ("#3 #7 #9", "3,7,9") read as their numbers.

Deleting a style removes its STYLE piece and its files (the LoRA weights), as /forget does for
every piece; pieces made with it stay: they are finished pictures and name the style only in
their params.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agent.boundary import excerpt
from agent.store.artifacts import unreferenced
from agent.store.db import Artifact
from agent.store.media import MediaStore
from agent.store.people import find_user
from agent.styles.listing import named_style, names_line, person_styles, style_name, style_row
from agent.types import Command, Reply, Turn

STYLE_COMMAND = "style"
TRAIN, LIST, DELETE = "train", "list", "delete"
STYLE_ACTIONS = (TRAIN, LIST, DELETE)
ANSWERED_HERE = (LIST, DELETE)
# The pieces as an option gives them: "#3 #7", "3,7,9".
PIECE_NUMBERS = re.compile(r"(?<!\d)\d{1,12}(?!\d)")
PIECE_LIST = re.compile(r"[\s,]*#?\d{1,12}(?:[\s,]+#?\d{1,12})*[\s,]*", re.ASCII)
NO_TRAINING = "Training a style is not available on this atelier. Nothing was stored."


def style_action(command: Command) -> str | None:
    """`train`, `list` or `delete` for a /style command, else None."""
    if command.name != STYLE_COMMAND:
        return None
    action = command.args.get("action")
    if action is None:
        words = command.text.split(maxsplit=1)
        action = words[0] if words else None
    action = str(action).lower() if action is not None else None
    return action if action in STYLE_ACTIONS else None


def answered_here(command: Command) -> bool:
    """Whether this is /style list or /style delete, which no tool runs."""
    return style_action(command) in ANSWERED_HERE


def as_tool_command(command: Command) -> Command:
    """A tool's command as its Args read it: /style train ... without its action (the STYLE
    tool's own command), and any tool's `from_pieces` given as text as their numbers."""
    args: dict[str, Any] = dict(command.args)
    text = command.text
    if style_action(command) == TRAIN:
        if "action" in args:
            del args["action"]
        else:
            text = text.split(maxsplit=1)[1] if len(text.split(maxsplit=1)) > 1 else ""
    pieces = args.get("from_pieces")
    if isinstance(pieces, str) and PIECE_LIST.fullmatch(pieces):  # "#3,#7,#9" as typed
        args["from_pieces"] = tuple(int(n) for n in PIECE_NUMBERS.findall(pieces))
    # Anything else goes to the Args as it is, whose validation explains what they take.
    return Command(command.name, args, text)


class StyleCommands:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], media: MediaStore) -> None:
        self._sessions = sessions
        self._media = media

    async def run(self, turn: Turn) -> Reply:
        assert turn.command is not None
        action = style_action(turn.command)
        if action == LIST:
            return await self._list(turn)
        if action == DELETE:
            return await self._delete(turn, _named(turn.command))
        if action == TRAIN:  # no STYLE tool is registered here
            return Reply(NO_TRAINING, stored=False)
        return Reply(
            "Use /style train, /style list or /style delete NAME.", stored=False, private=True
        )

    async def _list(self, turn: Turn) -> Reply:
        async with self._sessions() as session:
            user = await find_user(session, turn.platform, turn.user.external_id)
            styles = [] if user is None else await person_styles(session, user.id)
        if not styles:
            return Reply(names_line(styles), stored=False, private=True)
        rows = "\n".join(style_row(style) for style in styles)
        return Reply(f"Your styles:\n{rows}", stored=False, private=True)

    async def _delete(self, turn: Turn, name: str) -> Reply:
        if not name:
            return Reply("Which style? For example `/style delete watercolor`.", stored=False)
        async with self._sessions() as session, session.begin():
            user = await find_user(session, turn.platform, turn.user.external_id)
            styles = [] if user is None else await person_styles(session, user.id)
            style = named_style(styles, name)
            if style is None:
                line = f"You have no style named {excerpt(name)!r}. {names_line(styles)}"
                return Reply(line, stored=False, private=True)
            paths = {file.path for file in style.files} | (
                {style.media_path} if style.media_path else set()
            )
            await session.execute(delete(Artifact).where(Artifact.id == style.id))
            orphaned = await unreferenced(session, paths)
        # After the commit: a file goes only once no remaining artifact points at it.
        for path in orphaned:
            await asyncio.to_thread(self._media.remove, path)
        said = (
            f"Deleted your style {style_name(style)!r} (#{style.id}) and its weights; "
            "pictures made with it stay."
        )
        return Reply(said, stored=False, private=True)


def _named(command: Command) -> str:
    """The style's name: its `name` field, else the words after `delete`."""
    name = command.args.get("name")
    if name is not None:
        return str(name).strip()
    words = command.text.split(maxsplit=1)
    if "action" not in command.args and words:
        words = words[1:]
    return " ".join(words).strip()
