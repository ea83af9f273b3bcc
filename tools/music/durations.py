"""How long a clip runs: the bounds of one take and of a whole piece, and the clamping of
what a request asks for into them, with a note when it had to be.

The seconds asked for arrive as `MusicArgs.duration` (an option, or what the request's words
state, read in tools/music/intents.py); nothing here reads words. The operator may lower a
take's most (ATELIER_MUSIC_MAX_SECONDS): audio seconds are what a music run costs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

DEFAULT_SECONDS = 8.0
MIN_SECONDS, MAX_SECONDS = 1.0, 30.0  # one take; longer pieces are made by extending
MAX_TOTAL_SECONDS = 120.0


def take_limit(settings: Mapping[str, Any]) -> float:
    """The seconds one run may make: the operator's `max_seconds` (Settings.music_max_seconds,
    through ToolContext.settings) where it is lower than a take's most."""
    return min(float(settings.get("max_seconds", MAX_SECONDS)), MAX_SECONDS)


def clamp_seconds(
    asked: float | None, *, take: float = MAX_SECONDS, room: float = math.inf
) -> tuple[float, list[str]]:
    """The seconds to make, within 1 s, the `take` limit and the `room` a piece has left to
    grow, and a note when the request was outside."""
    most = min(take, room)
    if asked is None:
        return min(DEFAULT_SECONDS, most), []
    seconds = min(max(asked, MIN_SECONDS), most)
    if seconds == asked:
        return seconds, []
    if asked < MIN_SECONDS:
        return seconds, [f"{asked:g} s is too short; made {seconds:g} s"]
    if room < take:
        return seconds, [f"a piece can run {MAX_TOTAL_SECONDS:g} s at most; added {seconds:g} s"]
    if take < MAX_SECONDS:
        return seconds, [f"{asked:g} s is over the {take:g} s a clip may run here; made {take:g} s"]
    return seconds, [f"{asked:g} s is more than one take; made {seconds:g} s (extend it for more)"]
