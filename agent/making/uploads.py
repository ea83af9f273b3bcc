"""Files people upload, kept as pieces of their own so tools can build on them.

An image to vary, a clip to extend, a picture to critique: each tool says which files it takes
(`Tool.uploads`) and checks them. An accepted file is kept as an artifact made by the person
who sent it, and the last one becomes the piece in focus for the turn. A file that no tool
takes, or that its tool refuses, is answered with one line, and nothing of the turn is kept.
"""

from __future__ import annotations

import asyncio
import mimetypes
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from agent.store.artifacts import add_artifact
from agent.store.db import Artifact
from agent.store.media import MediaStore, StoredMedia
from agent.types import Attachment
from tools.contract import ArtifactDraft, Media, Tool, UploadRejected

# What Discord calls a file it cannot type, and what a transport may pass through as-is.
_UNTYPED = {"", "application/octet-stream"}


class UploadRefused(Exception):
    """An uploaded file atelier cannot use. The message is one line for the person."""


@dataclass(frozen=True)
class Upload:
    """A file a tool accepted: what to keep, and as which kind of piece."""

    tool: Tool
    filename: str
    media: Media


async def read_uploads(attachments: Sequence[Attachment], tools: Iterable[Tool]) -> list[Upload]:
    """Each attachment checked by the tool that takes its type (decoding runs off the loop).

    Raises UploadRefused for the first file that no tool takes or that its tool refuses.
    """
    takers = [tool for tool in tools if tool.uploads is not None]
    return [await asyncio.to_thread(_read, attachment, takers) for attachment in attachments]


@dataclass(frozen=True)
class WrittenUpload:
    """An accepted upload whose file is already in the media store."""

    upload: Upload
    stored: StoredMedia
    media: MediaStore


async def write_uploads(uploads: Sequence[Upload], media: MediaStore) -> list[WrittenUpload]:
    """Hash, write and fsync each file in a thread, before any transaction opens: the write
    lock of another person's turn is never waited on for a disk flush, nor held during one."""
    written: list[WrittenUpload] = []
    try:
        for upload in uploads:
            data, mime_type = upload.media.data, upload.media.mime_type
            stored = await asyncio.to_thread(media.put, data, mime_type)
            written.append(WrittenUpload(upload, stored, media))
    except BaseException:
        await discard_uploads(written)
        raise
    return written


async def add_uploads(
    session: AsyncSession, written: Sequence[WrittenUpload], user_id: int, conversation_id: int
) -> list[Artifact]:
    """Each written upload as a piece made by the person, in order (the last is the focus),
    inside the caller's transaction; the caller discards the files if it fails."""
    artifacts = []
    for one in written:
        upload = one.upload
        draft = ArtifactDraft(
            kind=upload.tool.kind, media=upload.media, params={"upload": upload.filename}
        )
        artifact = await add_artifact(
            session,
            conversation_id=conversation_id,
            creator_id=user_id,
            draft=draft,
            prompt=upload.filename,
            parent=None,
            media=one.stored,
        )
        artifacts.append(artifact)
    return artifacts


async def discard_uploads(written: Sequence[WrittenUpload]) -> None:
    """Remove the files of uploads whose pieces were not stored (only files they created)."""
    for one in written:
        await asyncio.to_thread(one.media.discard, one.stored)


def _read(attachment: Attachment, takers: Sequence[Tool]) -> Upload:
    mime_type = _mime_type(attachment)
    for tool in takers:
        assert tool.uploads is not None
        if mime_type in tool.uploads.mime_types:
            try:
                return Upload(tool, attachment.filename, tool.uploads.read(attachment.data))
            except UploadRejected as rejected:
                raise UploadRefused(f"{attachment.filename}: {rejected}") from None
    raise UploadRefused(
        f"I can't use {attachment.filename} ({mime_type or 'unknown type'}); "
        f"I take {_accepted(takers)}."
    )


def _mime_type(attachment: Attachment) -> str:
    declared = attachment.mime_type.split(";")[0].strip().lower()
    if declared not in _UNTYPED:
        return declared
    guessed, _ = mimetypes.guess_type(attachment.filename)
    return guessed or declared


def _accepted(takers: Sequence[Tool]) -> str:
    kinds = [
        f"{tool.kind.value}s ({', '.join(t.split('/')[-1] for t in tool.uploads.mime_types)})"
        for tool in takers
        if tool.uploads is not None
    ]
    return " and ".join(kinds) if kinds else "no files yet"
