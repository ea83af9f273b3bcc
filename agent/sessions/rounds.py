"""Rounds (any medium): the host opens a round with a prompt; members propose candidates, then
vote; the winner becomes the canvas.

A member's words, while a round is open, become their candidate: the round's tool makes it
from the round's prompt and their words (agent/sessions/play.py). Each member votes once per
round and may change their vote until it closes; by default nobody votes for a candidate
they proposed (the session's `self_vote` allows it). A round closes when every present member
has voted, when the host closes it, or at its deadline (agent/sessions/clock.py); the most
votes win, a tie going to the candidate proposed first.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from agent.sessions.store import present
from agent.store.artifacts import shown_artifact
from agent.store.db import (
    Artifact,
    GroupSession,
    RoundCandidate,
    RoundState,
    RoundVote,
    SessionRound,
    utcnow,
)
from agent.store.media import MediaStore
from agent.types import Reply

MAX_BOT_CANDIDATES = 4


class RoundArgs(BaseModel):
    """What /session round takes; the prompt is its free text."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    prompt: str = Field(min_length=1, max_length=500, description="what the round asks for")
    kind: Literal["image", "poem", "music"] = Field("image", description="what is made")
    minutes: int | None = Field(None, ge=1, le=24 * 60, description="when voting closes")
    jury: bool = Field(False, description="a short critique of each candidate")


class RoundRefused(Exception):
    """A proposal or vote that cannot be taken: one line for the member, nothing stored."""


async def open_round(session: AsyncSession, group: GroupSession) -> SessionRound | None:
    query = select(SessionRound).where(
        SessionRound.session_id == group.id, SessionRound.state == RoundState.OPEN
    )
    return (await session.execute(query.limit(1))).scalar_one_or_none()


async def last_round(session: AsyncSession, group: GroupSession) -> SessionRound | None:
    query = select(SessionRound).where(SessionRound.session_id == group.id)
    return (await session.execute(query.order_by(SessionRound.number.desc()).limit(1))).scalar()


async def start_round(session: AsyncSession, group: GroupSession, args: RoundArgs) -> SessionRound:
    previous = await last_round(session, group)
    now = utcnow()
    new = SessionRound(
        session_id=group.id,
        number=1 if previous is None else previous.number + 1,
        kind=args.kind,
        prompt=args.prompt,
        jury=args.jury,
        state=RoundState.OPEN,
        opened_at=now,
        closes_at=None if args.minutes is None else now + timedelta(minutes=args.minutes),
        candidates=[],
        votes=[],
    )
    session.add(new)
    await session.flush()
    return new


def check_proposal(round_: SessionRound, user_id: int) -> None:
    """A member proposes one candidate of their own per round (the bot's are extra)."""
    for candidate in round_.candidates:
        artifact = candidate.artifact
        if artifact.creator_id == user_id and not artifact.params.get("by_bot"):
            raise RoundRefused(
                f"You proposed #{artifact.id} in round {round_.number} already; "
                "vote now, or wait for the next round."
            )


def vote(group: GroupSession, round_: SessionRound, voter_id: int, piece: int) -> str:
    """Cast or move the member's vote; the line that says what happened."""
    if round_.state != RoundState.OPEN:
        raise RoundRefused(f"Round {round_.number} is closed; its votes are counted.")
    candidate = next((c for c in round_.candidates if c.artifact_id == piece), None)
    if candidate is None:
        numbers = ", ".join(f"#{c.artifact_id}" for c in round_.candidates) or "none yet"
        raise RoundRefused(f"#{piece} is not a candidate in round {round_.number} ({numbers}).")
    own = candidate.artifact.creator_id == voter_id and not candidate.artifact.params.get("by_bot")
    if own and not group.self_vote:
        raise RoundRefused("That is your own candidate: vote for someone else's.")
    cast = next((v for v in round_.votes if v.voter_id == voter_id), None)
    if cast is None:
        round_.votes.append(RoundVote(voter_id=voter_id, artifact_id=piece))
        return f"Your vote for #{piece} is in."
    if cast.artifact_id == piece:
        raise RoundRefused(f"You already voted for #{piece}; one vote per member a round.")
    before, cast.artifact_id, cast.cast_at = cast.artifact_id, piece, utcnow()
    return f"Your vote moved from #{before} to #{piece}."


def everyone_voted(group: GroupSession, round_: SessionRound) -> bool:
    voters = {v.voter_id for v in round_.votes}
    return all(member.user_id in voters for member in present(group))


def close_round(round_: SessionRound) -> str:
    """Count the votes, name the winner (it becomes the canvas), and say the tally."""
    round_.state, round_.closed_at = RoundState.CLOSED, utcnow()
    counts = tally(round_)
    if not round_.candidates:
        return f"Round {round_.number} closed with no candidates."
    # The most votes; among equals, the candidate proposed first (candidates are in order).
    winner = max(round_.candidates, key=lambda c: (counts[c.artifact_id], -c.id))
    round_.winner_id = winner.artifact_id
    return f"Round {round_.number} closed. Winner: #{winner.artifact_id}. {tally_line(round_)}"


def tally(round_: SessionRound) -> Counter[int]:
    return Counter(vote.artifact_id for vote in round_.votes)


def tally_line(round_: SessionRound) -> str:
    counts = tally(round_)
    parts = [f"#{c.artifact_id} {_votes(counts[c.artifact_id])}" for c in round_.candidates]
    return "Tally: " + ", ".join(parts) + "."


def _votes(n: int) -> str:
    return f"{n} vote" + ("" if n == 1 else "s")


def add_candidates(round_: SessionRound, artifact_ids: Sequence[int]) -> None:
    round_.candidates.extend(RoundCandidate(artifact_id=number) for number in artifact_ids)


def round_status(round_: SessionRound | None) -> str:
    if round_ is None or round_.state != RoundState.OPEN:
        return "No round is open."
    deadline = f", closes {round_.closes_at:%H:%M} UTC" if round_.closes_at else ""
    return (
        f"Round {round_.number} ({round_.kind}: “{round_.prompt}”{deadline}): "
        f"{len(round_.candidates)} candidates, {len(round_.votes)} votes."
    )


async def closed_reply(
    session: AsyncSession, round_: SessionRound, media: MediaStore, lead: str = ""
) -> Reply:
    """Close the round; the Reply names the winner and shows it (the canvas now)."""
    said = lead + close_round(round_)
    if round_.winner_id is None:
        return Reply(said, stored=False)
    winner = await session.get(Artifact, round_.winner_id)
    shown = () if winner is None else (shown_artifact(winner, media),)
    return Reply(said, artifacts=shown, stored=False)
