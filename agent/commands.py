"""Commands that work on a person's own history: /help, /history, /forget.

They bypass the chat model and reach the agent through the same Command path that
console `/name ...` lines and Discord slash commands use.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agent.db import Conversation, Message, Role
from agent.memory import Memory, forget_conversations
from agent.scope import find_conversation, find_user
from agent.types import Command, Reply, Turn

HISTORY_TURNS = 10
HISTORY_CLIP = 300
HELP = {
    "help": "list commands",
    "history": "show your recent turns here",
    "forget": "delete all your conversations with atelier (`/forget yes` to confirm)",
}


class Commands:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], memory: Memory) -> None:
        self._sessions = sessions
        self._memory = memory

    async def run(self, turn: Turn) -> Reply:
        assert turn.command is not None
        name = turn.command.name
        if name == "help":
            return Reply(help_text(), stored=False)
        if name == "history":
            return await self._history(turn)
        if name == "forget":
            return await self._forget(turn)
        return Reply(f"Unknown command /{name}. {help_text()}", stored=False)

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
            ids = await _owned_conversations(session, turn)
            if not _confirmed(turn.command):
                return Reply(
                    f"This deletes your {_count(len(ids), 'conversation')} with atelier and "
                    "what was made in them. Send `/forget yes` to confirm.",
                    stored=False,
                )
            removed = await forget_conversations(session, ids)
        return Reply(
            f"Forgotten: {_count(len(ids), 'conversation')}, {_count(removed, 'message')}.",
            stored=False,
        )


async def _owned_conversations(session: AsyncSession, turn: Turn) -> list[int]:
    user = await find_user(session, turn.platform, turn.user.external_id)
    if user is None:
        return []
    query = select(Conversation.id).where(Conversation.owner_id == user.id)
    return list((await session.execute(query)).scalars())


def _confirmed(command: Command) -> bool:
    return "yes" in {command.text.strip().lower(), command.args.get("confirm", "").lower()}


def help_text() -> str:
    return "Commands: " + "; ".join(f"/{name}: {what}" for name, what in HELP.items())


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _speaker(role: str) -> str:
    return "you" if role == Role.USER else "atelier"


def _clip(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= HISTORY_CLIP else flat[: HISTORY_CLIP - 1] + "…"
