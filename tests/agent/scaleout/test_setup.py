"""The NATS settings as an operator writes them: what they build, what they refuse, and that
no line shows the server's credentials."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from agent.config import SettingsError, load_settings
from agent.scaleout.serving import parse_kinds
from agent.scaleout.setup import QueueUnreachable, transport_from


def test_local_jobs_build_no_transport(tmp_path: Path) -> None:
    assert transport_from(load_settings(data_dir=tmp_path)) is None


def test_nats_jobs_build_the_transport_the_settings_name(tmp_path: Path) -> None:
    settings = load_settings(
        data_dir=tmp_path,
        jobs="nats://queue.internal:4222",
        jobs_media="object",
        nats_prefix="studio",
        jobs_ack_wait_s=12,
        jobs_max_deliver=5,
        worker_pull=16,
    )
    transport = transport_from(settings)
    assert transport is not None
    assert transport.names.jobs_stream == "STUDIO_JOBS"
    assert (transport.media, transport.ack_wait_s, transport.max_deliver, transport.pull) == (
        "object",
        12,
        5,
        16,
    )
    assert transport.media_root == tmp_path / "media"  # the directory the studio stores in
    # Unset, the bot's id is the host name made a single subject token.
    assert re.fullmatch(r"[A-Za-z0-9_-]+", transport.bot_id)


def test_a_job_queue_that_is_not_nats_is_refused_in_one_line(tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as refused:
        load_settings(data_dir=tmp_path, jobs="redis://localhost:6379")
    assert "ATELIER_JOBS" in str(refused.value)
    assert "\n" not in str(refused.value)


def test_the_refusal_line_never_shows_the_servers_password(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path, jobs="nats://atelier:s3cret@queue:4222")
    transport = transport_from(settings)
    assert transport is not None
    line = str(QueueUnreachable(transport))
    assert "s3cret" not in line
    assert "(NATS at nats://queue:4222) is not answering" in line


def test_worker_kinds_are_checked_with_the_choices_named() -> None:
    assert parse_kinds("image, music") == ("image", "music")
    with pytest.raises(SettingsError, match="musik.*text,image,music,critique"):
        parse_kinds("image,musik")
