"""Nothing half-stored: what the database and the media store must agree on after any fault.

    a piece without its file     an artifact's media, or one of its named files, is missing
    a file without its piece     a file in the media store (a temporary one included) that
                                 no artifact points at
    a message without its answer a person's message with no reply stored after it

Read over the whole database and store, so a test checks it once at the end, whatever the
fault did to whichever turn.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agent.store.db import Artifact, ArtifactFile, Message, Role
from agent.store.media import MediaStore


async def half_stored(sessions: async_sessionmaker[AsyncSession], media: MediaStore) -> list[str]:
    """Every way the database and the media store disagree; empty when they are whole."""
    async with sessions() as session:
        pieces = list((await session.execute(select(Artifact))).scalars())
        files = list((await session.execute(select(ArtifactFile))).scalars())
        messages = list((await session.execute(select(Message).order_by(Message.id))).scalars())
    pointed = {a.media_path: f"#{a.id}" for a in pieces if a.media_path is not None}
    pointed.update({f.path: f"#{f.artifact_id}'s {f.name}" for f in files})
    on_disk = set(_files_under(media.root))
    problems = [
        f"{owner} has no file {path}" for path, owner in pointed.items() if path not in on_disk
    ]
    problems += [f"{path} is a file with no piece" for path in sorted(on_disk - set(pointed))]
    return problems + _unanswered(messages)


def _files_under(root: Path) -> list[str]:
    if not root.is_dir():
        return []
    return [path.relative_to(root).as_posix() for path in root.rglob("*") if path.is_file()]


def _unanswered(messages: list[Message]) -> list[str]:
    """A person's message with no answer after it: walking each conversation from its end,
    the bot's messages must never be fewer than the people's. (Turns stored at once may
    interleave their ids; each still has its answer after its message.)"""
    by_conversation: dict[int, list[Message]] = defaultdict(list)
    for message in messages:
        by_conversation[message.conversation_id].append(message)
    problems = []
    for conversation in by_conversation.values():
        owed = 0
        for message in reversed(conversation):
            owed += 1 if message.role == Role.USER else -1
            if owed > 0:
                problems.append(f"message {message.id} ({message.content[:40]!r}) has no answer")
                owed = 0
    return problems
