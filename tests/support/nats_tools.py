"""Test tools for the NATS leg, which a worker subprocess (tests/support/nats_worker.py) and
the test that starts it both know: `hold` runs until released, called off or out of time,
leaving marks a test can read (which worker started it, that it saw its cancel); `crash`
kills its worker process every time, as a poisoned job would."""

from __future__ import annotations

import os
import time
from pathlib import Path

from pydantic import Field

from tools.contract import (
    ArtifactDraft,
    ArtifactKind,
    Cancelled,
    Media,
    Tool,
    ToolArgs,
    ToolContext,
)

HELD_MIME = "application/octet-stream"


class HoldArgs(ToolArgs):
    prompt: str = Field(description="what the held piece says", min_length=1)
    marks: str = Field(description="a directory for the tool's marks; 'release' there ends it")
    seconds: float = Field(30.0, gt=0, description="how long it holds at most")


def hold(args: HoldArgs, context: ToolContext) -> ArtifactDraft:
    marks = Path(args.marks)
    pid = os.getpid()
    (marks / f"started-{pid}").write_text(args.prompt)
    deadline = time.monotonic() + args.seconds
    while not (marks / "release").exists() and time.monotonic() < deadline:
        try:
            context.check()
        except Cancelled:
            (marks / f"saw-cancel-{pid}").write_text(args.prompt)
            raise
        context.progress(0.5, "holding")
        time.sleep(0.02)
    return ArtifactDraft(
        ArtifactKind.POEM,
        text=f"held {args.prompt} by {pid}",
        media=Media(f"bytes of {args.prompt}".encode(), HELD_MIME),
        params={"worker_pid": pid},
    )


class CrashArgs(ToolArgs):
    prompt: str = Field(description="anything", min_length=1)
    marks: str = Field(description="a directory: one 'crash-<pid>' mark per crash")


def crash(args: CrashArgs, context: ToolContext) -> ArtifactDraft:
    (Path(args.marks) / f"crash-{os.getpid()}").write_text(args.prompt)
    os._exit(1)


HOLD_TOOL = Tool(
    name="hold", description="holds until released", kind=ArtifactKind.POEM, args=HoldArgs, run=hold
)
CRASH_TOOL = Tool(
    name="crash", description="kills its worker", kind=ArtifactKind.POEM, args=CrashArgs, run=crash
)
