"""The piece in focus and the draft made, turned into references and back (agent/scaleout/
media.py moves the bytes). The bot sends a FocusRef and reads a DraftRef; a worker the other
way round."""

from __future__ import annotations

import itertools
import mimetypes
from pathlib import Path

from agent.scaleout.envelope import DraftRef, FocusRef, MediaRef
from agent.scaleout.media import MediaMover
from tools.contract import ArtifactDraft, FocusArtifact, Media


async def focus_ref(
    mover: MediaMover, focus: FocusArtifact | None, job_id: int, *, place: str = "in"
) -> FocusRef | None:
    """`place` names its objects apart from the job's other inputs' (a style's pictures)."""
    if focus is None:
        return None
    prefix = f"job-{job_id}/{place}"
    media = None
    if focus.media_path is not None:
        mime = focus.mime_type or "application/octet-stream"
        media = await mover.put_file(focus.media_path, mime, f"{prefix}/media")
    files = {
        name: await mover.put_file(path, _mime_of(path), f"{prefix}/{name}")
        for name, path in focus.files.items()
    }
    return FocusRef(
        number=focus.number,
        kind=focus.kind,
        prompt=focus.prompt,
        text=focus.text,
        mime_type=focus.mime_type,
        params=dict(focus.params),
        media=media,
        files=files,
    )


async def focus_from(
    mover: MediaMover, ref: FocusRef | None, scratch: Path
) -> FocusArtifact | None:
    """The focus as the tool sees it, its files at paths on this machine."""
    if ref is None:
        return None
    media_path = None if ref.media is None else await mover.local_path(ref.media, scratch)
    files = {name: await mover.local_path(one, scratch) for name, one in ref.files.items()}
    return FocusArtifact(
        number=ref.number,
        kind=ref.kind,
        prompt=ref.prompt,
        text=ref.text,
        media_path=media_path,
        mime_type=ref.mime_type,
        params=ref.params,
        files=files,
    )


async def draft_ref(mover: MediaMover, draft: ArtifactDraft, job_id: int) -> DraftRef:
    return await _draft_ref(mover, draft, f"job-{job_id}/out", itertools.count())


async def _draft_ref(
    mover: MediaMover, draft: ArtifactDraft, prefix: str, numbers: itertools.count[int]
) -> DraftRef:
    async def put(media: Media) -> MediaRef:
        return await mover.put(media, f"{prefix}/{next(numbers)}")

    return DraftRef(
        kind=draft.kind,
        text=draft.text,
        media=None if draft.media is None else await put(draft.media),
        params=dict(draft.params),
        from_focus=draft.from_focus,
        focus_is_source=draft.focus_is_source,
        note=draft.note,
        files={name: await put(media) for name, media in draft.files.items()},
        parts=tuple([await _draft_ref(mover, part, prefix, numbers) for part in draft.parts]),
    )


async def draft_from(mover: MediaMover, ref: DraftRef) -> ArtifactDraft:
    """The draft with its bytes in hand, each file checked against its sha256."""
    return ArtifactDraft(
        kind=ref.kind,
        text=ref.text,
        media=None if ref.media is None else await mover.read(ref.media),
        params=ref.params,
        from_focus=ref.from_focus,
        focus_is_source=ref.focus_is_source,
        note=ref.note,
        files={name: await mover.read(one) for name, one in ref.files.items()},
        parts=tuple([await draft_from(mover, part) for part in ref.parts]),
    )


def refs_of_draft(ref: DraftRef | None) -> list[MediaRef]:
    if ref is None:
        return []
    own = [*([ref.media] if ref.media else []), *ref.files.values()]
    return own + [one for part in ref.parts for one in refs_of_draft(part)]


def refs_of_focus(ref: FocusRef | None) -> list[MediaRef]:
    if ref is None:
        return []
    return [*([ref.media] if ref.media else []), *ref.files.values()]


def _mime_of(path: Path) -> str:
    return mimetypes.guess_type(path.name)[0] or "application/octet-stream"
