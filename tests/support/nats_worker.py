"""A worker for the NATS tests, started as a subprocess: `python -m tests.support.nats_worker
--url ... --prefix ...`. It serves the test tools (tests/support/nats_tools.py) and the real
poem tool on the tiny models, on the CPU, until SIGTERM; it prints `ready` once it pulls."""

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
from agent.scaleout.serving import serve  # noqa: E402
from agent.scaleout.setup import Transport  # noqa: E402
from agent.scaleout.subjects import Names  # noqa: E402
from agent.scaleout.worker import Worker  # noqa: E402
from tests.support.nats_tools import CRASH_TOOL, HOLD_TOOL  # noqa: E402
from tools.models.registry import ModelRegistry, RegistryConfig  # noqa: E402
from tools.models.specs import role_specs  # noqa: E402
from tools.poem.tool import POEM_TOOL  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[2]


def tiny_models() -> ModelRegistry:
    """The tiny profile on the CPU in float32, cached where the test session caches it."""
    configured = os.environ.get("ATELIER_TEST_MODELS_DIR")
    cache = Path(configured) if configured else REPO_ROOT / "data" / "test-models"
    specs = role_specs("tiny", False, {})
    return ModelRegistry(
        RegistryConfig(specs=specs, models_dir=cache, device="cpu", dtype="float32")
    )


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
        tools=[POEM_TOOL, HOLD_TOOL, CRASH_TOOL],
        models=tiny_models(),
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
