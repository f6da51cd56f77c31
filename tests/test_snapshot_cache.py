"""The snapshot cache is an optimisation: failing to write it must never stop the bot (the image runs with a
read-only root, where even removing the half-written temp file fails with EROFS)."""

from __future__ import annotations

import errno
from pathlib import Path

from bot import snapshot_cache
from bot.live_knowledge import build_snapshot

FIXTURE_KB = Path(__file__).parent / "fixtures"


def _read_only(*_args, **_kwargs):
    raise OSError(errno.EROFS, "Read-only file system")


def test_store_on_a_read_only_filesystem_logs_and_returns(tmp_path, monkeypatch, caplog):
    kb_dir = next(p.parent for p in sorted(FIXTURE_KB.rglob("*.yaml")) if p.parent.name != "demos")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    snapshot = build_snapshot(kb_dir, use_cache=False)
    monkeypatch.setattr(Path, "write_bytes", _read_only)
    monkeypatch.setattr(Path, "unlink", _read_only)
    with caplog.at_level("INFO", logger="bot.snapshot_cache"):
        snapshot_cache.store(kb_dir, snapshot)  # must not raise
    assert "cannot cache the trained model" in caplog.text
    assert "Read-only file system" in caplog.text


def test_load_of_a_missing_snapshot_is_none(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    kb = build_snapshot(FIXTURE_KB / "kb", use_cache=False).kb
    assert snapshot_cache.load(tmp_path, "no-such-version", kb) is None
