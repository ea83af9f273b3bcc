"""What an operator can fix before atelier starts is one line on stderr and exit code 2.

A settings file that cannot be read, a data or media directory that cannot be written: each
is said before any model loads, naming the file or directory and what to do, never with a
traceback. Run as root (a container), chmod takes nothing away; there a directory is made
read-only with the immutable attribute instead, which binds root too, and the settings
file is refused as the kernel refuses any other user.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import pytest

from bot.cli import main

AS_ROOT = os.geteuid() == 0


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A clean environment with its data directory under tmp_path; returns that directory."""
    for name in [n for n in os.environ if n.startswith("ATELIER_")]:
        monkeypatch.delenv(name)
    data = tmp_path / "data"
    monkeypatch.setenv("ATELIER_DATA_DIR", str(data))
    monkeypatch.setenv("ATELIER_CONFIG", str(tmp_path / "atelier.toml"))
    return data


@pytest.fixture
def read_only() -> Iterator[list[Path]]:
    """Directories appended here are made read-only for the test (for root too)."""
    made: list[Path] = []
    yield made
    for directory in made:
        if AS_ROOT:
            subprocess.run(["chattr", "-i", str(directory)], check=False)
        else:
            directory.chmod(0o755)


def make_read_only(directory: Path, read_only: list[Path]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    if not AS_ROOT:
        directory.chmod(0o555)
    elif shutil.which("chattr") is None:
        pytest.skip("running as root without chattr: no way to make a directory read-only")
    elif subprocess.run(["chattr", "+i", str(directory)], capture_output=True).returncode:
        pytest.skip("running as root on a filesystem without the immutable attribute")
    read_only.append(directory)


def one_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    [line] = err.strip().splitlines()
    assert line.startswith("atelier: ")
    return line


def test_a_settings_file_that_is_a_directory_is_named(
    env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "atelier.toml").mkdir()
    assert main(["db", "upgrade"]) == 2
    line = one_line(capsys)
    assert f"{tmp_path / 'atelier.toml'} is not a file" in line and "ATELIER_CONFIG" in line


def test_a_settings_file_that_is_not_utf8_says_so(
    env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "atelier.toml").write_bytes('profile = "tiny"\n# caf\xe9\n'.encode("latin-1"))
    assert main(["db", "upgrade"]) == 2
    line = one_line(capsys)
    assert "is not UTF-8 text (byte 0xe9" in line and "save it as UTF-8" in line


def test_a_settings_file_nobody_may_read_says_so(
    env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    settings_file = tmp_path / "atelier.toml"
    settings_file.write_text('profile = "tiny"\n')
    settings_file.chmod(0)
    if AS_ROOT:  # root reads it whatever its mode: refuse it as the kernel would refuse others
        monkeypatch.setattr(Path, "open", _refusing(settings_file, Path.open))
    assert main(["db", "upgrade"]) == 2
    line = one_line(capsys)
    assert f"cannot read the settings file {settings_file} (Permission denied)" in line


def _refusing(refused: Path, open_file: Callable[..., IO[Any]]) -> Callable[..., IO[Any]]:
    def opening(path: Path, *args: Any, **kwargs: Any) -> IO[Any]:
        if path == refused:
            raise PermissionError(13, "Permission denied", str(path))
        return open_file(path, *args, **kwargs)

    return opening


def test_a_data_directory_that_cannot_be_written_stops_the_start(
    env: Path, read_only: list[Path], capsys: pytest.CaptureFixture[str]
) -> None:
    make_read_only(env, read_only)
    assert main(["chat"]) == 2
    line = one_line(capsys)
    assert f"the data directory {env} is not writable" in line and "ATELIER_DATA_DIR" in line


def test_a_media_directory_that_cannot_be_written_stops_the_start(
    env: Path, read_only: list[Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """Chat alone would work; the first picture would fail. Said at start instead."""
    make_read_only(env / "media", read_only)
    assert main(["chat"]) == 2
    line = one_line(capsys)
    assert f"the media directory {env / 'media'} is not writable" in line
    assert not [p for p in (env / "media").iterdir()]  # no probe file left behind


def test_a_file_where_the_media_directory_goes_is_named(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env.mkdir()
    (env / "media").write_text("not a directory")
    assert main(["chat"]) == 2
    line = one_line(capsys)
    assert "the media directory" in line and "a file is in the way" in line
