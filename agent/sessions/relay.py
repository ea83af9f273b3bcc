"""Relay sessions (an exquisite corpse, for poems): members add a line or a stanza in turn, in
the order they joined.

The poem is a chain of versions of one poem piece in the session. Each contribution is a new
version: its text is the whole poem so far, one verse line per text line; its creator is the
member who wrote it; `params["relay"]["added"]` says how many of its last lines are theirs
(the finale and the export read each line's author from that). The form checker judges each
contribution against the session's form and says what misses; the lines are kept either way
(it is a game: the next member can make up for it), but a contribution longer than the form
allows is refused whole. When the form's lines are all written the poem is complete, and the
next contribution starts a new one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from agent.sessions.canvas import FORMER_MEMBER
from agent.sessions.relay_lines import RELAY, RelayPoem, relay_poems
from agent.sessions.store import membership, present
from agent.store.artifacts import root_of
from agent.store.db import Artifact, GroupSession, SessionMember, User, utcnow
from tools.poem import prosody
from tools.poem.forms import Form, check
from tools.poem.plan import form_or_free_verse

MAX_ADDED = 8  # lines one turn may add: a stanza


class RelayRefused(Exception):
    """A contribution that cannot be taken (too long, empty): one line, nothing stored."""


@dataclass(frozen=True)
class Judged:
    """A contribution measured against the form before it is stored."""

    lines: tuple[str, ...]  # the whole poem with the contribution, one verse line each
    added: int
    problems: tuple[str, ...]  # what the new lines miss of the form
    complete: bool  # the form's last line is written

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def judge(before: str | None, contribution: str, form_name: str | None) -> Judged:
    """The poem with `contribution` added, and what its new lines miss of the form."""
    form = form_or_free_verse(form_name)
    old = verse_lines(before or "", form)
    new = verse_lines(contribution, form)
    if not new:
        raise RelayRefused("Send your line as words: an empty line adds nothing.")
    room = form.lines[1] - len(old)
    if len(new) > min(room, MAX_ADDED):
        most = min(room, MAX_ADDED)
        raise RelayRefused(
            f"That is {len(new)} lines; {_left(form, most)} Nothing was stored: send fewer."
        )
    lines = (*old, *new)
    numbers = range(len(old) + 1, len(lines) + 1)
    problems = check("\n".join(lines), form).problems_on(numbers)
    return Judged(lines, len(new), problems, complete=len(lines) >= form.lines[1])


def verse_lines(text: str, form: Form) -> list[str]:
    """A text's verse lines as the form counts them (a Chinese couplet on one line is two)."""
    chinese = form.language == "zh" or (form.language is None and prosody.is_chinese(text))
    return prosody.chinese_verse_lines(text) if chinese else prosody.content_lines(text)


def _left(form: Form, most: int) -> str:
    return f"the {form.label} has room for {most} more line{'' if most == 1 else 's'}."


def judged_line(judged: Judged, author: str, form_name: str | None) -> str:
    """What the session is told of a contribution: whose lines, and how they met the form."""
    first = len(judged.lines) - judged.added + 1
    if judged.added == 1:
        where = f"Line {first} by {author} is in"
    else:
        where = f"Lines {first}-{len(judged.lines)} by {author} are in"
    label = form_or_free_verse(form_name).label
    verdict = f": {'; '.join(judged.problems)}" if judged.problems else " ✓"
    return f"{where} ({label}{verdict})."


def relay_params(judged: Judged, form_name: str | None) -> dict[str, object]:
    params: dict[str, object] = {RELAY: {"added": judged.added}}
    return {**params, "form": form_name} if form_name else params


# --- whose turn -------------------------------------------------------------------------------


def member_after(group: GroupSession, user_id: int | None) -> SessionMember | None:
    """The present member whose turn follows `user_id`'s, in join order (round the circle).
    The one after a member who left is the next who joined after them."""
    order = present(group)
    if not order:
        return None
    gone = None if user_id is None else membership(group, user_id)
    if gone is None:
        return order[0]
    later = [m for m in order if m.user_id != user_id and m.joined_at > gone.joined_at]
    others = [m for m in order if m.user_id != user_id]
    return (later or others or order)[0]


def give_turn(group: GroupSession, member: SessionMember | None, now: datetime) -> None:
    """The turn is `member`'s now, until the session's turn limit (if it has one)."""
    group.turn_user_id = None if member is None else member.user_id
    minutes = group.turn_minutes
    group.turn_due_at = now + timedelta(minutes=minutes) if member and minutes else None


def pass_turn(group: GroupSession) -> SessionMember | None:
    """The turn moves to the next member (a pass, a skip, a timeout); returns them."""
    following = member_after(group, group.turn_user_id)
    give_turn(group, following, utcnow())
    return following


def pass_from(group: GroupSession, user_id: int) -> str:
    """If `user_id` holds the turn (leaving, kicked, forgotten), it passes to the next member;
    what to tell the session of it ("" when it was not theirs)."""
    if group.turn_user_id != user_id:
        return ""
    following = pass_turn(group)
    return "" if following is None else f" It is {following.user.display_name}'s turn."


def whose_turn(group: GroupSession) -> SessionMember | None:
    return next((m for m in present(group) if m.user_id == group.turn_user_id), None)


# --- the poem's lines, with their authors ----------------------------------------------------


@dataclass(frozen=True)
class _Version:
    """A poem piece of the session with its contributor's name (a RelayVersion)."""

    number: int
    kind: str
    parent: int | None
    root: int
    creator_id: int | None
    contributor: str
    params: Mapping[str, Any]
    text: str | None


async def session_relay_poems(session: AsyncSession, group: GroupSession) -> list[RelayPoem]:
    """Every relay poem of the session, oldest first, each line with the member who wrote it."""
    query = (
        select(Artifact, User.display_name)
        .outerjoin(User, Artifact.creator_id == User.id)
        .where(Artifact.conversation_id == group.conversation_id, Artifact.kind == "poem")
        .order_by(Artifact.id)
    )
    versions = [
        _Version(
            artifact.id,
            artifact.kind,
            artifact.parent_id,
            root_of(artifact),
            artifact.creator_id,
            name or FORMER_MEMBER,
            artifact.params,
            artifact.text,
        )
        for artifact, name in await session.execute(query)
    ]
    return relay_poems(versions)


def poem_with_authors(poem: RelayPoem) -> str:
    return "\n".join(f"{line.text}  — {line.author}" for line in poem.lines)
