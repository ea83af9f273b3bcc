"""A job's files between bot and worker, as MediaRefs (never inside a message).

`shared`: a media directory both sides mount. The writer puts the bytes in it through the
content-addressed MediaStore (agent/store/media.py); the reader reads them back and checks
their sha256. `object`: the JetStream object store, for machines that share no disk; the bot
uploads the focus's files and a worker its results, and each object is deleted once its job
no longer needs it. Hashing and disk work run in threads: the event loop never waits on them.
"""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

from nats.js.object_store import ObjectStore

from agent.scaleout.envelope import MediaRef
from agent.scaleout.setup import MediaMode
from agent.store.media import MediaCorrupted, MediaStore, extension_for
from tools.contract import Media


class MediaMover:
    def __init__(self, mode: MediaMode, root: Path, objects: ObjectStore | None = None) -> None:
        if mode == "object" and objects is None:
            raise ValueError("object mode needs the object store")
        self.mode = mode
        self._store = MediaStore(root)
        self._objects = objects

    async def put(self, media: Media, key: str) -> MediaRef:
        """`media` where the other side can read it; `key` names it in the object store
        (the shared directory names files by their bytes)."""
        if self.mode == "shared":
            stored = await asyncio.to_thread(self._store.put, media.data, media.mime_type)
            return MediaRef(
                where="shared", key=stored.path, sha256=stored.sha256, mime_type=media.mime_type
            )
        digest = await asyncio.to_thread(_sha256, media.data)
        assert self._objects is not None
        await self._objects.put(key, media.data)
        return MediaRef(where="object", key=key, sha256=digest, mime_type=media.mime_type)

    async def put_file(self, path: Path, mime_type: str, key: str) -> MediaRef:
        """A file of the bot's own media store (the focus): in shared mode it is there
        already, so only its digest is taken; else it is uploaded."""
        if self.mode == "shared":
            relative = path.resolve().relative_to(self._store.root.resolve()).as_posix()
            data = await asyncio.to_thread(path.read_bytes)
            digest = await asyncio.to_thread(_sha256, data)
            return MediaRef(where="shared", key=relative, sha256=digest, mime_type=mime_type)
        data = await asyncio.to_thread(path.read_bytes)
        return await self.put(Media(data, mime_type), key)

    async def read(self, ref: MediaRef) -> Media:
        """The bytes, checked against their sha256 (MediaCorrupted when they do not match)."""
        if ref.where == "shared":
            data = await asyncio.to_thread(self._store.read, ref.key, ref.sha256)
            return Media(data, ref.mime_type)
        assert self._objects is not None, "an object reference reached a shared-mode side"
        found = await self._objects.get(ref.key)
        data = found.data or b""
        if await asyncio.to_thread(_sha256, data) != ref.sha256:
            raise MediaCorrupted(f"object {ref.key} does not match its sha256")
        return Media(data, ref.mime_type)

    async def local_path(self, ref: MediaRef, scratch: Path) -> Path:
        """A path a tool may read the file at: the shared directory's own file (checked), or
        the object fetched into `scratch`, a directory of the job's own."""
        media = await self.read(ref)
        if ref.where == "shared":
            return self._store.path(ref.key)
        target = scratch / f"{ref.sha256}{extension_for(ref.mime_type)}"
        await asyncio.to_thread(target.write_bytes, media.data)
        return target

    async def delete(self, refs: list[MediaRef]) -> None:
        """Objects no job needs any more (shared files stay: the bot stores them)."""
        for ref in refs:
            if ref.where == "object" and self._objects is not None:
                try:
                    await self._objects.delete(ref.key)
                except Exception:  # noqa: BLE001 - gone already; the bucket's TTL sweeps the rest
                    continue


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
