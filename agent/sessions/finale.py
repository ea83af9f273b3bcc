"""The finale of a session: the final pieces, the relay poems with each line's author, each
round's winner, and the credits per member (versions made, relay lines written, votes cast)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from agent.sessions.canvas import canvas_text, session_pieces
from agent.sessions.relay import poem_with_authors, session_relay_poems
from agent.sessions.relay_lines import RelayPoem
from agent.sessions.rounds import closed_reply, open_round
from agent.store.db import GroupSession, RoundVote, SessionRound, SessionState, User, utcnow
from agent.store.media import MediaStore
from agent.types import Reply


async def end_session(session: AsyncSession, group: GroupSession, media: MediaStore) -> Reply:
    """End the session (by the host, or at its end time): an open round is counted first;
    the Reply is the finale."""
    round_ = await open_round(session, group)
    closed = "" if round_ is None else (await closed_reply(session, round_, media)).text
    group.state, group.ended_at = SessionState.ENDED, utcnow()
    group.turn_user_id, group.turn_due_at = None, None
    said = "\n".join(part for part in (closed, await finale_text(session, group)) if part)
    return Reply(said, stored=False, session_ended=True)


async def finale_text(session: AsyncSession, group: GroupSession) -> str:
    poems = await session_relay_poems(session, group)
    relay = [f"Relay poem {i}:\n{poem_with_authors(poem)}" for i, poem in enumerate(poems, 1)]
    parts = [
        f"The session on “{group.theme}” has ended.",
        await canvas_text(session, group),
        *relay,
        await credits_text(session, group, poems),
    ]
    return "\n".join(parts)


async def credits_text(
    session: AsyncSession, group: GroupSession, poems: Sequence[RelayPoem]
) -> str:
    """What each member contributed: versions made, relay lines written (in `poems`, the
    session's relay poems), votes cast."""
    versions = Counter(name for _, name in await session_pieces(session, group))
    lines = Counter(line.author for poem in poems for line in poem.lines)
    votes = await _votes_cast(session, group)
    total = versions + lines + votes
    names = sorted(total, key=lambda name: -total[name])  # the most contributions first
    if not names:
        return "Nothing was made."
    return "Credits: " + "; ".join(
        _credit(name, versions[name], lines[name], votes[name]) for name in names
    )


async def _votes_cast(session: AsyncSession, group: GroupSession) -> Counter[str]:
    query = (
        select(User.display_name, func.count())
        .select_from(RoundVote)
        .join(SessionRound, RoundVote.round_id == SessionRound.id)
        .join(User, RoundVote.voter_id == User.id)
        .where(SessionRound.session_id == group.id)
        .group_by(User.display_name)
    )
    return Counter({name: count for name, count in await session.execute(query)})


def _credit(name: str, versions: int, lines: int, votes: int) -> str:
    counted = [(versions, "version"), (lines, "line"), (votes, "vote")]
    said = ", ".join(f"{n} {what}{'' if n == 1 else 's'}" for n, what in counted if n)
    return f"{name}: {said}"
