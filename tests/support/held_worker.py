"""The real worker with its jobs held at the start, for tests that must act while a job is
surely running on it: `python -m tests.support.held_worker --kinds image --marks DIR`.

It is `atelier worker` as agent/scaleout/serving.py builds it from the environment's Settings
(the real tools, models and scheduler), except that each tool first leaves a `started` mark in
DIR and waits for a `release` file there before it does its real work. So a test knows the job
is in the worker's hands, does what it must (kills the bot that asked), and lets it go on.
Stopped by SIGTERM, as the real one.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

from agent.config import StartupError, load_settings
from agent.factory import build_model_registry, job_limits
from agent.jobs import Jobs
from agent.scaleout.serving import device_name, parse_kinds
from agent.scaleout.setup import transport_from
from agent.scaleout.subjects import JobKind, job_kind
from agent.scaleout.worker import Worker, serve, worker_limits
from tools.contract import ArtifactDraft, Tool, ToolContext
from tools.lineup import creative_tools

STARTED = "started"
RELEASE = "release"
HOLD_AT_MOST_S = 120.0  # a test that never releases still ends: the job then runs anyway


def held(tool: Tool, marks: Path) -> Tool:
    """`tool`, waiting for the release mark before its real run (a cancel still stops it)."""

    def run(args: object, context: ToolContext) -> ArtifactDraft:
        (marks / f"{STARTED}-{os.getpid()}").write_text(tool.name)
        deadline = time.monotonic() + HOLD_AT_MOST_S
        while not (marks / RELEASE).exists() and time.monotonic() < deadline:
            context.check()
            time.sleep(0.02)
        return tool.run(args, context)

    return replace(tool, run=run)


def held_worker(kinds: tuple[JobKind, ...], marks: Path) -> Worker:
    settings = load_settings()
    transport = transport_from(settings)
    if transport is None:
        raise StartupError("the held worker needs ATELIER_JOBS=nats://...")
    tools = [held(tool, marks) for tool in creative_tools() if job_kind(tool.kind) in kinds]
    return Worker(
        transport,
        tools=tools,
        models=build_model_registry(settings),
        kinds=kinds,
        jobs=Jobs(worker_limits(transport.pull, job_limits(settings).batching)),
        device=device_name(settings.device),
        grace_s=5.0,
    )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--kinds", required=True)
    parser.add_argument("--marks", type=Path, required=True)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    try:
        asyncio.run(serve(held_worker(parse_kinds(args.kinds), args.marks)))
    except StartupError as exc:
        print(f"atelier: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
