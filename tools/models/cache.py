"""The models cache directory: converted and tiny models are built into it atomically, so a
crash mid-build never leaves a half directory that later loads would trust."""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

logger = logging.getLogger(__name__)

# A temp dir older than this was left by a killed conversion (one takes under a minute).
STALE_TEMP_SECONDS = 3600.0


def build_atomically(target: Path, build: Callable[[Path], None]) -> None:
    """Build into a temp dir beside `target`, then rename it into place."""
    target.parent.mkdir(parents=True, exist_ok=True)
    prefix = f".{target.name}."
    _remove_stale_temps(target.parent, prefix)
    temp = Path(tempfile.mkdtemp(prefix=prefix, dir=target.parent))
    try:
        build(temp)
        try:
            temp.rename(target)
        except OSError:
            # Another process finished the same build first; theirs is as good as ours.
            if not (target / "config.json").is_file():
                raise
    finally:
        shutil.rmtree(temp, ignore_errors=True)


def _remove_stale_temps(parent: Path, prefix: str) -> None:
    """Reclaim temp dirs left by builds that were killed (a finally clause cannot run then).
    Recent ones are left alone: another process may be building right now."""
    now = time.time()
    for temp in parent.glob(f"{prefix}*"):
        if temp.is_dir() and now - temp.stat().st_mtime > STALE_TEMP_SECONDS:
            logger.info("removing %s, left by an interrupted model build", temp)
            shutil.rmtree(temp, ignore_errors=True)
