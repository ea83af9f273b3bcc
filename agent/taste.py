"""/taste: what atelier learned of a person's taste, medium by medium, and clearing any of it.

A person's taste is the pieces they kept (/keep) and voted for in sessions where they opted
in (agent/store/taste.py): each tool takes what those share as its defaults where a request
leaves a choice open (tools/poem/tool.py `with_taste`, tools/image/taste.py,
tools/music/taste.py). `/taste` shows those defaults as the tools would read them now, and
from how many kept pieces and votes; `/taste clear pictures` (or poems, music, all) un-keeps
that medium's pieces and withdraws the votes (the opt-in of each session they were cast in,
which is per session, not per medium): the pieces stay, and no longer lean the next requests.

The medium comes as a typed field (Discord's option) or, from the console, as the command's
words, read here and nowhere else, in English and Chinese.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agent.store.db import Artifact
from agent.store.people import find_user
from agent.store.taste import Tasted, taste_params, taste_pieces, withdraw_votes
from agent.types import Command, Reply, Turn
from tools.contract import ArtifactKind
from tools.image.taste import image_taste
from tools.music.taste import music_taste
from tools.poem.tool import PoemArgs, with_taste

TASTE_COMMAND = "taste"
MEDIA = (ArtifactKind.POEM, ArtifactKind.IMAGE, ArtifactKind.MUSIC)
MEDIA_VALUES = tuple(kind.value for kind in MEDIA)
SHOWN_AS = {ArtifactKind.POEM: "poems", ArtifactKind.IMAGE: "pictures", ArtifactKind.MUSIC: "music"}
# What a person may call each medium, in English and Chinese.
_MEDIUM_WORDS: Mapping[str, tuple[ArtifactKind, ...]] = {
    **dict.fromkeys(("poem", "poems", "诗", "诗歌"), (ArtifactKind.POEM,)),
    **dict.fromkeys(
        ("image", "images", "picture", "pictures", "图", "图片", "画"), (ArtifactKind.IMAGE,)
    ),
    **dict.fromkeys(("music", "clip", "clips", "音乐"), (ArtifactKind.MUSIC,)),
    **dict.fromkeys(("all", "everything", "全部"), MEDIA),
}
_CLEAR_WORDS = frozenset(("clear", "reset", "清除", "清空"))
ASK_WHICH = "Clear which? `/taste clear pictures` (or poems, music, all)."


class TasteCommands:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def run(self, turn: Turn) -> Reply:
        assert turn.command is not None
        action, media = asked(turn.command)
        if action == "clear" and not media:
            return Reply(ASK_WHICH, stored=False)
        async with self._sessions() as session, session.begin():
            user = await find_user(session, turn.platform, turn.user.external_id)
            if action == "clear":
                said = await _clear(session, user.id, media) if user else _cleared_line(media, 0, 0)
            else:
                taste = await taste_pieces(session, user.id, MEDIA_VALUES) if user else {}
                said = taste_text(taste)
        return Reply(said, stored=False)


def asked(command: Command) -> tuple[str, tuple[ArtifactKind, ...]]:
    """The action (show or clear) and the media named, from the command's fields, else its
    words: "clear pictures", "清除 图片"."""
    words = [word.lower() for word in command.text.split()]
    action = str(command.args.get("action") or ("clear" if _CLEAR_WORDS & set(words) else "show"))
    named = command.args.get("medium")
    found = [_MEDIUM_WORDS.get(str(word).lower()) for word in ([named] if named else words)]
    media = tuple(dict.fromkeys(kind for kinds in found if kinds for kind in kinds))
    return action, media


def taste_text(taste: Mapping[str, Sequence[Tasted]]) -> str:
    lines = ["What atelier learned from the pieces you kept and voted for:"]
    params = taste_params(taste)
    for kind in MEDIA:
        learned = learned_words(kind, params.get(kind.value, ()))
        if learned:
            lines.append(f"{SHOWN_AS[kind]}: {learned} ({_from(taste.get(kind.value, ()))})")
        else:
            lines.append(f"{SHOWN_AS[kind]}: nothing yet (/keep #N leans the next ones toward it)")
    lines.append("Clear any of it: `/taste clear pictures` (or poems, music, all).")
    return "\n".join(lines)


def _from(pieces: Sequence[Tasted]) -> str:
    """'from 3 kept pieces and 2 votes': what a medium's defaults were read from."""
    votes = sum(piece.voted for piece in pieces)
    kept = len(pieces) - votes
    counted = [
        _counted(kept, "kept piece", "kept pieces"),
        _counted(votes, "vote", "votes"),
    ]
    return "from " + " and ".join(part for part in counted if part)


def _counted(number: int, one: str, many: str) -> str:
    return "" if not number else f"{number} {one if number == 1 else many}"


def learned_words(kind: ArtifactKind, kept: Sequence[Mapping[str, Any]]) -> str:
    """The defaults a medium's tool would take from these kept pieces, in words."""
    if not kept:
        return ""
    if kind is ArtifactKind.POEM:
        tasted = with_taste(PoemArgs(prompt="-"), kept)
        return ", ".join(part for part in (tasted.form, tasted.tone) if part)
    if kind is ArtifactKind.IMAGE:
        return image_taste(kept).words()
    return music_taste(kept).words()


async def _clear(session: AsyncSession, user_id: int, media: Sequence[ArtifactKind]) -> str:
    unkept = await _unkeep(session, user_id, media)
    withdrawn = await withdraw_votes(session, user_id, [kind.value for kind in media])
    return _cleared_line(media, unkept, withdrawn)


async def _unkeep(session: AsyncSession, user_id: int, media: Sequence[ArtifactKind]) -> int:
    """Un-keep the person's own kept pieces of these media; how many there were."""
    result = await session.execute(
        update(Artifact)
        .where(
            Artifact.creator_id == user_id,
            Artifact.kept_at.is_not(None),
            Artifact.kind.in_([kind.value for kind in media]),
        )
        .values(kept_at=None)
    )
    return int(result.rowcount or 0)


def _cleared_line(media: Sequence[ArtifactKind], unkept: int, withdrawn: int) -> str:
    names = ", ".join(SHOWN_AS[kind] for kind in media)
    if not unkept and not withdrawn:
        return f"Nothing to clear: you have kept no {names} and no session votes count."
    said = [f"Cleared your taste in {names}:"]
    if unkept:
        said.append(f"{unkept} kept piece(s) no longer lean your next requests (the pieces stay).")
    if withdrawn:
        said.append(
            f"Your votes in {_counted(withdrawn, 'session', 'sessions')} no longer count "
            "(your taste is off there now: `/session taste on` in a session counts it again)."
        )
    return " ".join(said)
