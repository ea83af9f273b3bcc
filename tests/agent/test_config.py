"""Settings: environment, atelier.toml, and clear refusals of bad values."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from agent.config import SettingsError, load_settings
from tools.image.safety import SafetyPolicy


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for name in list(os.environ):
        if name.startswith("ATELIER_"):
            monkeypatch.delenv(name)
    config = tmp_path / "atelier.toml"
    monkeypatch.setenv("ATELIER_CONFIG", str(config))
    return config


def test_defaults_put_everything_in_the_data_dir(clean_env: Path) -> None:
    settings = load_settings()
    assert settings.effective_database_url == "sqlite+aiosqlite:///data/atelier.db"
    assert settings.effective_models_dir == Path("data/models")
    assert settings.profile == "auto"


def test_environment_overrides_the_settings_file(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clean_env.write_text('profile = "tiny"\ndata_dir = "/srv/atelier"\n')
    assert load_settings().profile == "tiny"
    assert load_settings().effective_database_url == "sqlite+aiosqlite:////srv/atelier/atelier.db"
    monkeypatch.setenv("ATELIER_PROFILE", "gpu")
    assert load_settings().profile == "gpu"


def test_bad_value_names_the_setting_and_what_it_accepts(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ATELIER_PROFILE", "huge")
    with pytest.raises(SettingsError) as error:
        load_settings()
    message = str(error.value)
    assert "ATELIER_PROFILE" in message and "'huge'" in message
    assert all(name in message for name in ("auto", "tiny", "embedded", "small", "gpu"))


def test_secrets_are_refused_in_the_file_and_never_echoed(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clean_env.write_text('discord_token = "abc.def"\n')
    with pytest.raises(SettingsError, match="ATELIER_DISCORD_TOKEN"):
        load_settings()
    clean_env.write_text("")
    monkeypatch.setenv("ATELIER_DISCORD_TOKEN", "abc.def")
    settings = load_settings()
    assert settings.discord_token is not None
    assert "abc.def" not in repr(settings) and "abc.def" not in str(settings)


def test_unknown_key_in_the_file_is_named(clean_env: Path) -> None:
    clean_env.write_text("profil = 'tiny'\n")
    with pytest.raises(SettingsError, match="profil"):
        load_settings()


def test_malformed_file_is_one_clear_line(clean_env: Path) -> None:
    clean_env.write_text("profile = \n")
    with pytest.raises(SettingsError, match="settings file"):
        load_settings()


@pytest.mark.parametrize(
    ("name", "value"),
    [("ATELIER_PROFILE", "huge"), ("ATELIER_TEMPERATURE", "hot"), ("ATELIER_MAX_NEW_TOKENS", "0")],
)
def test_cli_stops_with_exit_2_and_one_line(
    base_env: dict[str, str], name: str, value: str
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "chat"],
        env={**base_env, name: value},
        input="hello\n",
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and name in lines[0], result.stderr
    assert "Traceback" not in result.stderr


def test_the_image_blocklist_setting_reaches_the_image_tool(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ATELIER_IMAGE_BLOCKLIST", "dragon, red panda")
    policy = SafetyPolicy.from_settings(load_settings().tool_settings["image"])
    assert policy.refusal("a red panda asleep") is not None
    assert policy.refusal("a bloody sunset over a car crash") is None
