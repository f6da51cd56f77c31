"""Settings: secrets stay out of reprs, the cache directory follows the XDG rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import ConfigError, Settings, cache_dir


def test_secrets_work_as_text_but_never_show_in_a_repr():
    settings = Settings.from_env(
        {
            "SLACK_BOT_TOKEN": "xoxb-111",
            "SLACK_SIGNING_SECRET": "sig-222",
            "DOCKBOT_DB": "postgresql://u:pw333@h/db",
        }
    )
    assert settings.slack_bot_token == "xoxb-111" and settings.slack_signing_secret.startswith("sig-")
    shown = repr(settings)
    for secret in ("xoxb-111", "sig-222", "pw333"):
        assert secret not in shown
    assert "Secret('***')" in shown


def test_the_cache_dir_follows_xdg_and_ignores_a_relative_base(tmp_path: Path):
    assert cache_dir({"XDG_CACHE_HOME": str(tmp_path)}) == tmp_path / "dockbot"
    assert cache_dir({"XDG_CACHE_HOME": "relative/dir"}) == Path.home() / ".cache" / "dockbot"
    assert cache_dir({}) == Path.home() / ".cache" / "dockbot"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DOCKBOT_LOG_LEVEL", "loud"),
        ("DOCKBOT_DEMO_EDIT_INTERVAL_S", "soon"),
        ("DOCKBOT_DB", "/no-such-dir/x.db"),
    ],
)
def test_a_malformed_variable_is_named(name: str, value: str):
    with pytest.raises(ConfigError, match=name):
        Settings.from_env({name: value})
