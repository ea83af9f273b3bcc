"""The piece a music run builds on, checked against the mode: music to extend or rework, a
poem to set. A focus that does not fit is refused in one line for the person."""

from __future__ import annotations

from tools.contract import ArtifactKind, FocusArtifact, ToolRefused


class MusicRefused(ToolRefused):
    """A request this tool cannot carry out; the message is one line for the person."""


def music_focus(focus: FocusArtifact | None, mode: str) -> FocusArtifact:
    """The clip in focus, which `mode` ("extend", "rework") works on."""
    if focus is None or focus.kind is not ArtifactKind.MUSIC or focus.media_path is None:
        raise MusicRefused(
            f"There is no music in focus to {mode}; reply to a clip, name it as #N, or upload one."
        )
    return focus


def poem_focus(focus: FocusArtifact | None) -> FocusArtifact:
    """The poem in focus, to be set to music."""
    if focus is None or focus.kind is not ArtifactKind.POEM or not (focus.text or "").strip():
        raise MusicRefused("There is no poem in focus to set to music; name it as #N.")
    return focus
