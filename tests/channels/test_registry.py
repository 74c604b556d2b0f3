"""The messenger registry is the one list `buddycheck run` builds its channels from."""

from __future__ import annotations

from pathlib import Path

from bot.channels.registry import build_channels, names
from bot.config import settings_from
from tests.conftest import core_config


def test_run_builds_exactly_the_messengers_the_configuration_enables(tmp_path: Path) -> None:
    config = core_config(f"sqlite:///{tmp_path / 'b.db'}")
    assert build_channels(settings_from(config, "test settings")) == {}
    config["telegram"] = {"token": "123456:test-token"}
    config["signal"] = {"service": "127.0.0.1:1", "phone_number": "+15550100"}
    channels = build_channels(settings_from(config, "test settings"))
    assert sorted(channels) == sorted(names()) == ["signal", "telegram"]
    assert all(channel.name == name for name, channel in channels.items())
