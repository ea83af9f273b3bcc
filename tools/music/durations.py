"""How long a clip runs: the bounds of one take and of a whole piece, and the clamping of
what a request asks for into them, with a note when it had to be.

The seconds asked for arrive as `MusicArgs.duration` (an option, or what the request's words
state, read in tools/music/intents.py); nothing here reads words.
"""

from __future__ import annotations

DEFAULT_SECONDS = 8.0
MIN_SECONDS, MAX_SECONDS = 1.0, 30.0  # one take; longer pieces are made by extending
MAX_TOTAL_SECONDS = 120.0


def clamp_seconds(asked: float | None, *, most: float = MAX_SECONDS) -> tuple[float, list[str]]:
    """The seconds to make, within 1 s and `most`, and a note when the request was outside."""
    if asked is None:
        return min(DEFAULT_SECONDS, most), []
    seconds = min(max(asked, MIN_SECONDS), most)
    if seconds == asked:
        return seconds, []
    if asked < MIN_SECONDS:
        return seconds, [f"{asked:g} s is too short; made {seconds:g} s"]
    if most < MAX_SECONDS:
        return seconds, [f"a piece can run {MAX_TOTAL_SECONDS:g} s at most; added {seconds:g} s"]
    return seconds, [f"{asked:g} s is more than one take; made {seconds:g} s (extend it for more)"]
