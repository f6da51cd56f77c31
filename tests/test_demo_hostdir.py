"""The per-run host directory of the bind-mount demos: fresh, shared with root-without-capabilities
containers, and never a way out (symlinks a container could plant are not followed)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from bot.demos.runner import DemoContext, LockdownViolation


@pytest.fixture
def ctx():
    context = DemoContext(api=None, image="busybox:1.36", run_id="0123456789ab", expires=0)
    yield context
    made = context.tempdir()
    assert context.remove_tempdir() == []
    assert not Path(made).exists()


def test_each_run_gets_a_fresh_directory_that_root_without_caps_can_use(ctx):
    path = Path(ctx.tempdir())
    assert path.name.startswith("dockbot-0123456789ab-") and not any(path.iterdir())
    assert stat.S_IMODE(path.stat().st_mode) == 0o777
    other = DemoContext(api=None, image="x", run_id="ba9876543210", expires=0)
    assert other.tempdir() != ctx.tempdir()
    other.remove_tempdir()
    ctx.write_host_file("node_modules/from-host.txt", "호스트\n")
    assert stat.S_IMODE((path / "node_modules").stat().st_mode) == 0o777
    assert stat.S_IMODE((path / "node_modules" / "from-host.txt").stat().st_mode) == 0o666
    assert ctx.read_host_file("node_modules/from-host.txt") == "호스트\n"
    assert ctx.read_host_file("missing.txt") is None


def test_symlinks_planted_in_the_directory_are_never_followed(ctx, tmp_path):
    outside = tmp_path / "outside.txt"
    outside.write_text("secret", encoding="utf-8")
    base = Path(ctx.tempdir())
    os.symlink(outside, base / "link.txt")  # what a container could do inside its bind mount
    os.symlink(tmp_path, base / "dirlink")
    with pytest.raises(OSError):
        ctx.write_host_file("link.txt", "overwrite")
    with pytest.raises(OSError):
        ctx.read_host_file("link.txt")
    with pytest.raises(LockdownViolation):
        ctx.write_host_file("dirlink/x.txt", "escape")
    with pytest.raises(LockdownViolation):
        ctx.read_host_file("dirlink/outside.txt")
    assert outside.read_text(encoding="utf-8") == "secret"
    assert not (tmp_path / "x.txt").exists()
