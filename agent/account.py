"""Commands on a person's own history and pieces: /help, /history, /forget, /show, /versions
(marking the version /undo went back to), /diff, /keep, /export
(agent/personal_export/). /undo is agent/undo.py's.

They bypass the chat model and reach the agent through the same Command path that
console `/name ...` lines and Discord slash commands use.
"""

from __future__ import annotations

import asyncio
import difflib
import re
from collections.abc import Callable, Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agent.boundary import excerpt
from agent.ledger.record import forget_jobs
from agent.personal_export import EXPORT_COMMAND, PersonalExports
from agent.sessions.forgetting import SessionTraces, forget_in_sessions
from agent.sessions.store import conversation_here
from agent.store.artifacts import (
    ArtifactNotFound,
    listing_line,
    media_paths,
    mentioned_number,
    shown_artifact,
    stood_on,
    unreferenced,
    version_tree,
    visible_artifact,
)
from agent.store.db import Artifact, Conversation, Message, Role, User, utcnow
from agent.store.media import MediaStore
from agent.store.memory import Memory, forget_conversations
from agent.store.people import find_conversation, find_user
from agent.types import Command, Reply, Turn
from tools.contract import PIECE_MENTION, Tool

PIECE_NUMBER = re.compile(r"\d{1,12}", re.ASCII)  # the digits PIECE_MENTION's #N allows
HISTORY_TURNS = 10
HISTORY_CLIP = 300
HELP = {
    "help": "list commands",
    "history": "show your recent turns here",
    "forget": "delete all your conversations with atelier (asks first; confirm with yes)",
    "show": "show a piece: `/show #12`",
    "versions": "the versions of a piece: `/versions #12`",
    "diff": "what changed between two versions: `/diff #12 #14`",
    "undo": "go back to the previous version of the piece you are on; nothing is deleted",
    "keep": "keep a piece as a favourite; your next requests lean toward it: `/keep #12`",
    "taste": "what atelier learned from what you kept and voted for, per medium: "
    "`/taste clear pictures`",
    "export": "a zip of your own messages and pieces: `/export me`",
    "cancel": "stop what you asked for while it is made (Discord: its Cancel button)",
}


class AccountCommands:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        memory: Memory,
        media: MediaStore,
        exports: PersonalExports,
        tools: Sequence[Tool] = (),
    ) -> None:
        self._sessions = sessions
        self._memory = memory
        self._media = media
        self._exports = exports
        self._tools = tools

    async def run(self, turn: Turn) -> Reply:
        assert turn.command is not None
        name = turn.command.name
        if name == "help":
            return Reply(help_text(self._tools), stored=False)
        if name == "history":
            return await self._history(turn)
        if name == "forget":
            return await self._forget(turn)
        if name in {"show", "versions"}:
            return await self._piece(turn, name)
        if name == "diff":
            return await self._diff(turn)
        if name == "keep":
            return await self._keep(turn)
        if name == EXPORT_COMMAND:
            return await self._exports.run(turn)
        # The name is at most a few words long (agent/boundary.py bounds it).
        return Reply(f"Unknown command /{excerpt(name)}. {help_text(self._tools)}", stored=False)

    async def _history(self, turn: Turn) -> Reply:
        async with self._sessions() as session:
            messages = await self._recent(session, turn)
        if not messages:
            return Reply("No history here yet: say hello!", stored=False)
        lines = [f"{_speaker(m.role)}: {_clip(m.content)}" for m in messages]
        return Reply("Your recent turns:\n" + "\n".join(lines), stored=False)

    async def _recent(self, session: AsyncSession, turn: Turn) -> list[Message]:
        user = await find_user(session, turn.platform, turn.user.external_id)
        if user is None:
            return []
        conversation = await find_conversation(session, turn.platform, user, turn.place)
        if conversation is None:
            return []
        return await self._memory.recent(session, conversation, 2 * HISTORY_TURNS)

    async def _forget(self, turn: Turn) -> Reply:
        assert turn.command is not None
        async with self._sessions() as session, session.begin():
            user = await find_user(session, turn.platform, turn.user.external_id)
            ids = await _owned_conversations(session, user)
            if not _confirmed(turn.command):
                return Reply(
                    f"This deletes your {_count(len(ids), 'conversation')} with atelier and "
                    "what was made in them, and your messages in group sessions. To confirm, "
                    "send /forget again with yes.",
                    stored=False,
                )
            media = await media_paths(session, ids)
            removed = await forget_conversations(session, ids)
            traces = None if user is None else await forget_in_sessions(session, user.id)
            if user is not None:
                await forget_jobs(session, user.id)
            orphaned = await unreferenced(session, media | (traces.media if traces else set()))
        # After the commit: a file goes only once no remaining artifact points at it.
        for path in orphaned:
            await asyncio.to_thread(self._media.remove, path)
        if user is not None:  # their last /export me zip holds what was just forgotten
            await self._exports.discard(user.id)
        return Reply(_forgotten(len(ids), removed, traces), stored=False)

    async def _diff(self, turn: Turn) -> Reply:
        assert turn.command is not None
        pair = [turn.command.args.get(key) for key in ("before", "after")]
        named = [n for n in map(_number, pair) if n is not None]
        numbers = named or [int(n) for n in PIECE_MENTION.findall(turn.command.text)]
        if len(numbers) != 2:
            return Reply("Which two pieces? For example `/diff #12 #14`.", stored=False)
        async with self._sessions() as session:
            user = await find_user(session, turn.platform, turn.user.external_id)
            pieces = [
                None if user is None else await visible_artifact(session, n, user.id)
                for n in numbers
            ]
        for number, piece in zip(numbers, pieces, strict=True):
            if piece is None:
                return Reply(str(ArtifactNotFound(number)), stored=False)
        before, after = (piece.text or "" for piece in pieces if piece is not None)
        return Reply(line_diff(before, after, *numbers), stored=False)

    async def _keep(self, turn: Turn) -> Reply:
        assert turn.command is not None
        number = piece_named(turn.command)
        if number is None:
            return Reply("Which piece? For example `/keep #12`.", stored=False)
        async with self._sessions() as session, session.begin():
            user = await find_user(session, turn.platform, turn.user.external_id)
            artifact = None if user is None else await visible_artifact(session, number, user.id)
            if artifact is None or user is None:
                return Reply(str(ArtifactNotFound(number)), stored=False)
            if artifact.creator_id != user.id:
                return Reply(f"#{number} was made by someone else; keep your own.", stored=False)
            artifact.kept_at = utcnow()
        return Reply(
            f"Kept #{number}. Your next {artifact.kind}s will lean toward it.", stored=False
        )

    async def _piece(self, turn: Turn, name: str) -> Reply:
        assert turn.command is not None
        number = piece_named(turn.command)
        if number is None:
            return Reply(f"Which piece? For example `/{name} #12`.", stored=False)
        async with self._sessions() as session:
            user = await find_user(session, turn.platform, turn.user.external_id)
            artifact = None if user is None else await visible_artifact(session, number, user.id)
            if artifact is None:
                return Reply(str(ArtifactNotFound(number)), stored=False)
            if name == "show":
                shown = shown_artifact(artifact, self._media)
                return Reply(self._shown(artifact), artifacts=(shown,), stored=False)
            tree = await version_tree(session, artifact)
            here = await _standing_on(session, turn, user)
        return Reply(_tree_text(tree, lambda a: _marked(a, here)), stored=False)

    def _shown(self, artifact: Artifact) -> str:
        lineage = f"version {artifact.version}"
        if artifact.parent_id is not None:
            lineage += f", made from #{artifact.parent_id}"
        params = ", ".join(f"{key}={value}" for key, value in sorted(artifact.params.items()))
        lines = [f"#{artifact.id} {artifact.kind} ({lineage})", f"asked: {artifact.prompt}"]
        if params:
            lines.append(f"made with: {params}")
        if artifact.text:
            lines.append(artifact.text)
        return "\n".join(lines)


HERE = "  ← you are here"


async def _standing_on(session: AsyncSession, turn: Turn, user: User | None) -> int | None:
    """The version /undo went back to in this conversation, if it did. Without one the
    person stands on the latest piece, the tree's newest line: nothing to mark."""
    if user is None:
        return None
    conversation, _ = await conversation_here(session, turn.platform, user, turn.place)
    focus = None if conversation is None else await stood_on(session, conversation.id)
    return None if focus is None else focus.id


def _marked(artifact: Artifact, here: int | None) -> str:
    return listing_line(artifact) + (HERE if artifact.id == here else "")


def _tree_text(tree: Sequence[Artifact], line: Callable[[Artifact], str]) -> str:
    """Each version indented under the one it was made from."""
    depth: dict[int, int] = {}
    lines = []
    for artifact in tree:  # oldest first, so a parent always comes before its children
        # A root made from a piece of another kind has a parent outside the tree.
        parent_depth = depth.get(artifact.parent_id) if artifact.parent_id is not None else None
        depth[artifact.id] = 0 if parent_depth is None else parent_depth + 1
        lines.append("  " * depth[artifact.id] + line(artifact))
    return "Versions:\n" + "\n".join(lines)


async def _owned_conversations(session: AsyncSession, user: User | None) -> list[int]:
    if user is None:
        return []
    query = select(Conversation.id).where(Conversation.owner_id == user.id)
    return list((await session.execute(query)).scalars())


def _forgotten(conversations: int, messages: int, traces: SessionTraces | None) -> str:
    said = f"Forgotten: {_count(conversations, 'conversation')}, {_count(messages, 'message')}"
    if traces is not None and traces.sessions:
        said += (
            f"; in {_count(traces.sessions, 'group session')}, "
            f"{_count(traces.messages, 'message')} and your membership"
        )
    return said + "."


def _confirmed(command: Command) -> bool:
    confirm = str(command.args.get("confirm", ""))
    return "yes" in {command.text.strip().lower(), confirm.lower()}


def piece_named(command: Command) -> int | None:
    """The piece a command is about: its `piece` field (a button's, an option's), else the
    first #N of its text."""
    piece = command.args.get("piece")
    if piece is not None:
        return _number(piece)
    return mentioned_number(command.text)


def _number(value: object) -> int | None:
    """A piece number given as a field: ASCII digits, as many as #N may have. (str.isdigit
    takes "²", which int() refuses, and a value thousands of digits long would be quoted
    back whole in "I can't find #...".)"""
    if isinstance(value, int) and not isinstance(value, bool):  # a typed option, a button's
        return value if 0 <= value < 10**12 else None
    found = PIECE_NUMBER.fullmatch(value) if isinstance(value, str) else None
    return int(found.group()) if found else None


def help_text(tools: Sequence[Tool] = ()) -> str:
    commands = "Commands: " + "; ".join(f"/{name}: {what}" for name, what in HELP.items())
    if not tools:
        return commands
    making = "; ".join(f"/{tool.name}: {tool.description}" for tool in tools)
    return (
        f"To make something: {making} (options as key=value, `/NAME help` lists them). {commands}"
    )


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _speaker(role: str) -> str:
    return "you" if role == Role.USER else "atelier"


def _clip(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= HISTORY_CLIP else flat[: HISTORY_CLIP - 1] + "…"


def line_diff(before: str, after: str, old: int, new: int) -> str:
    """A unified line diff of two texts ("-" lines only in #old, "+" lines only in #new)."""
    lines = difflib.unified_diff(
        before.splitlines(), after.splitlines(), f"#{old}", f"#{new}", lineterm="", n=1
    )
    shown = list(lines)
    return "\n".join(shown) if shown else f"#{old} and #{new} have the same text."
