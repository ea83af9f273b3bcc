"""`/cancel` (the console's line, Discord's Cancel button): stop a run in the works.

`Command("cancel")` stops the asker's own runs; `Command("cancel", {"job": N})` stops run N,
which only its requester, or the host of the session it was asked in, may do. The answer is
one private line for the asker; the run's own turn answers its requester that nothing was
stored.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agent.cancelling.running import Cancellable, RunningJobs
from agent.sessions.store import host_of
from agent.store.db import GroupSession, SessionState
from agent.store.people import find_user
from agent.types import Reply, Turn

CANCEL_COMMAND = "cancel"
CANCELLED = "Cancelled; nothing was stored."
ALREADY_DONE = "That piece is already done."
NOTHING_RUNNING = "Nothing of yours is in the works."
NOT_YOURS = "Only the person who asked for it, or the session's host, can cancel it."
USAGE = "Usage: /cancel stops what you asked for; /cancel job=N stops job N."


class CancelCommands:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], running: RunningJobs) -> None:
        self._sessions = sessions
        self._running = running

    async def run(self, turn: Turn) -> Reply:
        assert turn.command is not None
        try:
            job = job_number(turn.command.args.get("job"))
        except ValueError:
            return _private(USAGE)
        if turn.command.text.strip() or set(turn.command.args) - {"job"}:
            return _private(USAGE)
        async with self._sessions() as session:
            user = await find_user(session, turn.platform, turn.user.external_id)
            if job is None:
                runs = [] if user is None else self._running.owned_by(user.id)
                return _stopping([run for run in runs if run.cancel()])
            run = self._running.get(job)
            if run is None:
                return _private(ALREADY_DONE)
            if user is None or not await _may_cancel(session, run, user.id):
                return _private(NOT_YOURS)
        return _stopping([run]) if run.cancel() else _private(ALREADY_DONE)


def job_number(value: object) -> int | None:
    """The job a command names (a button's int, a console's "12"); None when it names none.
    ValueError when it is no job number."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    digits = value.strip().removeprefix("#") if isinstance(value, str) else ""
    if digits.isascii() and digits.isdigit() and len(digits) <= 19:
        return int(digits)
    raise ValueError("no job number")


async def _may_cancel(session: AsyncSession, run: Cancellable, user_id: int) -> bool:
    """The requester, or the present host of the session the run was asked in."""
    if run.owner.user_id == user_id:
        return True
    if run.owner.session_id is None:
        return False
    group = await session.get(GroupSession, run.owner.session_id)
    if group is None or group.state == SessionState.ENDED:
        return False
    host = host_of(group)
    return host is not None and host.user_id == user_id


def _stopping(runs: list[Cancellable]) -> Reply:
    if not runs:
        return _private(NOTHING_RUNNING)
    what = runs[0].tool_name if len(runs) == 1 else f"{len(runs)} pieces"
    return _private(f"Stopping the {what}: nothing of it will be stored.")


def _private(text: str) -> Reply:
    return Reply(text, stored=False, private=True)
