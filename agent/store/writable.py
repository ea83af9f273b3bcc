"""Start-up checks that atelier can write where it keeps things.

A data or media directory atelier cannot write would otherwise fail the first turn that saves
a picture, long after the operator walked away; checked at start-up, it is one line saying
which directory and what to do.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from agent.config import ENV_PREFIX, Settings, StartupError

# A probe file's name; it lives for a moment, and a kill meanwhile leaves only this.
PROBE_PREFIX = ".atelier-write-check-"


def check_writable_directories(settings: Settings) -> None:
    """Raise StartupError naming the first of the data and media directories that cannot be
    created or written. Blocking: call it in a thread."""
    setting = f"{ENV_PREFIX}DATA_DIR"
    ensure_writable(settings.data_dir, "data directory", setting)
    ensure_writable(settings.data_dir / "media", "media directory", setting)


def ensure_writable(directory: Path, what: str, setting: str) -> None:
    try:
        directory.mkdir(parents=True, exist_ok=True)
        handle, probe = tempfile.mkstemp(dir=directory, prefix=PROBE_PREFIX)
        os.close(handle)
        os.unlink(probe)
    except OSError as exc:
        raise StartupError(
            f"the {what} {directory} is not writable ({_reason(exc)}): make it "
            f"writable by the user running atelier, or set {setting} to another place"
        ) from None


def _reason(exc: OSError) -> str:
    if isinstance(exc, (FileExistsError, NotADirectoryError)):
        return "a file is in the way of the directory"
    return exc.strerror or type(exc).__name__
