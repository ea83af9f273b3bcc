"""The job limits: many people asking at once are served in turn, so nobody starves."""

from __future__ import annotations

import asyncio
import threading
import time

from agent.jobs import JobLimits, Jobs
from tests.support.studio_tools import VerseArgs
from tools.contract import ArtifactDraft, ArtifactKind, Tool, ToolContext


async def test_members_asking_at_once_are_served_in_turn() -> None:
    served: list[int] = []
    lock = threading.Lock()

    def work(args: VerseArgs, context: ToolContext) -> ArtifactDraft:
        with lock:
            served.append(int(args.prompt))
        time.sleep(0.01)
        return ArtifactDraft(ArtifactKind.POEM, text="done")

    tool = Tool("work", "Work a little.", ArtifactKind.POEM, VerseArgs, work)
    jobs = Jobs(JobLimits(running=1, queued=2, workers=1))
    try:
        # Member 1 asks three times before anyone else, then members 2 and 3 do the same.
        asks = [
            jobs.run(member, tool, VerseArgs(prompt=str(member)), ToolContext())
            for member in (1, 1, 1, 2, 2, 2, 3, 3, 3)
        ]
        await asyncio.gather(*asks)
    finally:
        jobs.shutdown()
    assert served[:3] == [1, 2, 3] and sorted(served[3:6]) == [1, 2, 3]
    assert sorted(served[6:]) == [1, 2, 3]
