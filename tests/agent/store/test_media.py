"""The media store: files named by content, written whole, checked when read."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.store.media import MediaCorrupted, MediaStore


def test_the_same_bytes_are_kept_once_under_their_hash(tmp_path: Path) -> None:
    store = MediaStore(tmp_path)
    first = store.put(b"a picture", "image/png")
    again = store.put(b"a picture", "image/png")
    assert first.path == again.path and first.created and not again.created
    assert first.path.endswith(f"{first.sha256}.png")
    assert store.read(first.path, first.sha256) == b"a picture"
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == [f"{first.sha256}.png"]


def test_a_file_changed_or_lost_on_disk_is_reported_not_served(tmp_path: Path) -> None:
    store = MediaStore(tmp_path)
    stored = store.put(b"a song", "audio/wav")
    store.path(stored.path).write_bytes(b"something else")
    with pytest.raises(MediaCorrupted, match="does not match its sha256"):
        store.read(stored.path, stored.sha256)
    store.path(stored.path).unlink()
    with pytest.raises(MediaCorrupted, match="missing"):
        store.read(stored.path, stored.sha256)


def test_discarding_removes_only_a_file_that_put_created(tmp_path: Path) -> None:
    store = MediaStore(tmp_path)
    kept = store.put(b"shared bytes", "image/png")
    duplicate = store.put(b"shared bytes", "image/png")
    store.discard(duplicate)  # another artifact still points at these bytes
    assert store.read(kept.path, kept.sha256) == b"shared bytes"
    store.discard(kept)
    assert not store.path(kept.path).exists()


def test_paths_from_the_database_cannot_leave_the_store(tmp_path: Path) -> None:
    store = MediaStore(tmp_path / "media")
    with pytest.raises(ValueError, match="outside the media store"):
        store.path("../atelier.db")
