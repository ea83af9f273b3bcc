"""The start-up sweep: files a crash left in the media store go; stored pieces keep theirs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from agent.store.media import MediaStore
from agent.store.sweep import sweep_media
from tests.support.studio_tools import SKETCH
from tests.support.workshop import MakeWorkshop


async def test_files_no_piece_points_at_and_half_written_ones_go(
    make_studio: MakeWorkshop, tmp_path: Path
) -> None:
    studio = make_studio([SKETCH])
    await studio.command("/sketch a heron")  # a piece, with its file
    [kept] = studio.media_files()
    orphan = studio.media.put(
        b"P5 1 1 255\n\x00", "image/x-portable-graymap"
    )  # killed before its row
    half = studio.media.root / "ab" / ".tmp-k1ll3d"
    half.parent.mkdir(parents=True, exist_ok=True)
    half.write_bytes(b"half a picture")
    swept = await sweep_media(studio.sessions, MediaStore(studio.media.root))
    assert (swept.orphans, swept.temporary) == (1, 1)
    assert studio.media_files() == [kept]
    assert not studio.media.path(orphan.path).exists()
    again = await sweep_media(studio.sessions, MediaStore(studio.media.root))
    assert (again.orphans, again.temporary) == (0, 0)


def test_the_bot_sweeps_when_it_starts(
    base_env: dict[str, str], models_cache_dir: Path, tiny_chat: object, tmp_path: Path
) -> None:
    env = {
        **base_env,
        "ATELIER_CHAT_MODEL": "tiny:chat",
        "ATELIER_MODELS_DIR": str(models_cache_dir),
        "ATELIER_ROUTING": "tools",
    }
    stray = MediaStore(tmp_path / "data" / "media").put(b"left by a kill -9", "text/plain")
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "chat", "--user", "ada"],
        input="hello\n",
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "data" / "media" / stray.path).exists()
