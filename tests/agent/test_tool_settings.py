"""The settings tools read (Settings.tool_settings, by tool name) come from the environment:
the image tool's IP-Adapter, and the STYLE tool's steps and caps, with their defaults and a
clear line for a step count over its cap."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from agent.config import SettingsError, load_settings


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("ATELIER_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("ATELIER_CONFIG", str(tmp_path / "atelier.toml"))


def test_unset_no_ip_adapter_reaches_the_image_tool_and_styles_train_the_tools_own_steps(
    clean_env: None,
) -> None:
    tools = load_settings().tool_settings
    assert "ip_adapter" not in tools["image"]  # a style picture is then refused in one line
    # No style_steps: the STYLE tool trains its own default for the device it runs on.
    assert tools["style"] == {"style_max_steps": 1000, "style_max_seconds": 1800.0}


def test_the_environment_reaches_the_image_and_style_tools(
    clean_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ATELIER_MODEL_IMAGE_IP_ADAPTER", "tiny:ip-adapter")
    monkeypatch.setenv("ATELIER_STYLE_STEPS", "40")
    monkeypatch.setenv("ATELIER_STYLE_MAX_STEPS", "80")
    monkeypatch.setenv("ATELIER_STYLE_MAX_SECONDS", "90")
    tools = load_settings().tool_settings
    assert tools["image"]["ip_adapter"] == "tiny:ip-adapter"
    assert tools["style"] == {"style_steps": 40, "style_max_steps": 80, "style_max_seconds": 90.0}


def test_steps_over_their_cap_are_one_line_naming_the_cap(
    clean_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ATELIER_STYLE_STEPS", "500")
    monkeypatch.setenv("ATELIER_STYLE_MAX_STEPS", "200")
    with pytest.raises(SettingsError) as refused:
        load_settings()
    message = str(refused.value)
    assert "ATELIER_STYLE_MAX_STEPS='200'" in message and "style steps setting, 500" in message
    assert "\n" not in message
