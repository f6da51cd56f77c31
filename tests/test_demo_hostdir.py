"""The bind-mount demos' host directory, on the REAL engine: it lives on the engine's host (so a remote demo
host works), containers running as the unprivileged demo uid can use it, the bot's own filesystem is never
touched, and symlinks a container plants there are never followed."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import pytest

from bot.demos.engine import connect_engine, ensure_image
from bot.demos.errors import EngineUnavailable
from bot.demos.hostdir import DEMO_UID
from bot.demos.operations import Mount as MountSpec
from bot.demos.runner import LABEL, DemoContext, new_run_id

pytestmark = pytest.mark.docker
IMAGE = os.environ.get("DOCKBOT_DEMO_IMAGE", "busybox:1.36")


@pytest.fixture
def ctx(docker_client):
    api = connect_engine()
    try:
        ensure_image(api, IMAGE)
    except EngineUnavailable as exc:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true but the demo image is missing: {exc}")
        pytest.skip(f"demo image {IMAGE} unavailable: {exc}")
    context = DemoContext(api, IMAGE, new_run_id(), expires=time.time() + 120)
    local_before = set(Path(tempfile.gettempdir()).glob("dockbot-*"))
    yield context
    assert context.cleanup() == []
    assert api.volumes(filters={"label": f"{LABEL}={context.run_id}"}).get("Volumes") in (None, [])
    assert api.containers(all=True, filters={"label": f"{LABEL}={context.run_id}"}) == []
    assert set(Path(tempfile.gettempdir()).glob("dockbot-*")) - local_before <= {
        Path(tempfile.gettempdir()) / "dockbot-runs"
    }
    api.close()


def run(ctx: DemoContext, argv: list[str]):
    mounts = [MountSpec(type="tempdir", target="/site")]
    return ctx.run_container(
        None, argv, mounts, None, detach=False, remove=True, deadline=time.monotonic() + 30
    )


def test_host_directory_is_on_the_engine_and_shared_both_ways_with_a_non_root_container(ctx):
    path = ctx.host_dir()
    assert path.startswith("/") and ctx.host_dir() == path  # created once per run
    # The engine's own volume directory, not a directory of the bot's (the engine's data root may be
    # anywhere, /tmp included for a test-owned engine).
    assert path == ctx.api.inspect_volume(ctx.real_name("hostdir"))["Mountpoint"]
    assert not Path(path).name.startswith("dockbot-")
    ctx.write_host_file("node_modules/from-host.txt", "호스트\n")
    seen = run(
        ctx, ["sh", "-c", "id -u; cat /site/node_modules/from-host.txt; echo 컨테이너 > /site/out.txt"]
    )
    assert seen.exit_code == 0, seen.output
    assert seen.output.splitlines() == [str(DEMO_UID), "호스트"]
    assert ctx.read_host_file("out.txt") == "컨테이너\n"
    assert ctx.read_host_file("missing.txt") is None
    ctx.write_host_file("node_modules/from-host.txt", "고친 내용\n")  # an edit replaces the file in place
    assert run(ctx, ["cat", "/site/node_modules/from-host.txt"]).output == "고친 내용\n"
    assert "hostdir-editor" not in " ".join(ctx.list_containers())  # the editor is plumbing, not shown
    assert not any(name.endswith("hostdir") for name in ctx.list_volumes())


def test_symlinks_planted_in_the_directory_are_never_followed(ctx):
    planted = run(ctx, ["sh", "-c", "ln -s /etc/passwd /site/link.txt && ln -s /etc /site/dirlink"])
    assert planted.exit_code == 0, planted.output
    assert ctx.read_host_file("link.txt") is None  # a symlink is not a file to read
    # Through a planted directory link the archive API stays inside the editor container's own filesystem:
    # the engine host's files (this machine's, in tests) are out of reach.
    host_name = Path("/etc/hostname").read_text(encoding="utf-8").strip()
    through = ctx.read_host_file("dirlink/hostname")
    assert through is None or through.strip() != host_name
    ctx.write_host_file(
        "dirlink/hostname", "overwritten"
    )  # lands in the editor's rootfs view, never the host's
    assert Path("/etc/hostname").read_text(encoding="utf-8").strip() == host_name
