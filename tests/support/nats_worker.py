"""A worker for the NATS tests, started as a subprocess: `python -m tests.support.nats_worker
--url ... --prefix ...`. It serves the test tools (tests/support/nats_tools.py), which need no
model, until SIGTERM. It imports no more than a worker must, so it starts in seconds."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from agent.config import StartupError  # noqa: E402
from agent.scaleout.setup import Transport  # noqa: E402
from agent.scaleout.subjects import Names  # noqa: E402
from agent.scaleout.worker import Worker, serve  # noqa: E402
from tests.support.nats_tools import CRASH_TOOL, HOLD_TOOL  # noqa: E402
from tools.contract import NoModels  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--prefix", required=True)
    parser.add_argument("--media", choices=("shared", "object"), default="shared")
    parser.add_argument("--media-root", type=Path, required=True)
    parser.add_argument("--ack-wait", type=float, default=2.0)
    parser.add_argument("--max-deliver", type=int, default=3)
    parser.add_argument("--pull", type=int, default=4)
    parser.add_argument("--grace", type=float, default=5.0)
    parser.add_argument("--id", default=None)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    transport = Transport(
        url=args.url,
        names=Names(prefix=args.prefix),
        bot_id="unused",
        media=args.media,
        media_root=args.media_root,
        ack_wait_s=args.ack_wait,
        max_deliver=args.max_deliver,
        pull=args.pull,
        beat_every_s=1.0,
    )
    worker = Worker(
        transport,
        tools=[HOLD_TOOL, CRASH_TOOL],
        models=NoModels(),
        kinds=["text"],
        worker_id=args.id,
        grace_s=args.grace,
    )
    try:
        asyncio.run(serve(worker))
    except StartupError as exc:
        print(f"atelier: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
