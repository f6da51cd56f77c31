"""A second dockerd owned by a test, for "the engine stops mid-demo" on a real engine.

It must not disturb the engine every other test uses:
- its own network namespace (`unshare --net`): a dockerd started with `--bridge=none` in the host's
  namespace deletes the host's default bridge `docker0` at start-up (moby's removeDefaultBridgeInterface),
  after which every `docker run`/`docker build` on the main engine's default bridge fails. Its unix socket
  lives in a temp dir, which the host namespace reaches like any file;
- its own data root (vfs: no overlay mounts left behind), exec root, pidfile, containerd (started by this
  dockerd under its exec root; a separate containerd namespace in case a system containerd is shared),
  cgroup parent, no iptables rules.

    engine = SecondEngine.create()        # or: with second_engine(image) as engine: ...
    engine.start(); engine.load_image(main_api, "busybox:1.36"); engine.stop(); engine.start(); engine.close()

Needs root, `dockerd` and `unshare`: `unavailable_reason()` says what is missing (tests skip with it, or fail
under CI=true).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

START_TIMEOUT_S = 60.0


def unavailable_reason() -> str | None:
    """Why no second engine can run here (None when it can)."""
    if os.geteuid() != 0:
        return "a second, test-owned dockerd needs root"
    missing = [tool for tool in ("dockerd", "unshare") if shutil.which(tool) is None]
    if missing:
        return f"a second, test-owned dockerd needs {' and '.join(missing)}"
    return None


class SecondEngine:
    """A dockerd in its own network namespace that a test may stop mid-demo and start again."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.socket = root / "docker.sock"
        self.host = f"unix://{self.socket}"
        self.log = root / "dockerd.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @classmethod
    def create(cls, prefix: str = "dbe-") -> SecondEngine:
        # A short path under /tmp: unix socket paths are limited to 108 bytes.
        return cls(Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp")))

    def command(self) -> list[str]:
        return [
            "unshare",
            "--net",  # a fresh network namespace: nothing this dockerd does to links reaches the host's
            "--",
            "dockerd",
            "-H",
            self.host,
            "--data-root",
            str(self.root / "data"),
            "--exec-root",
            str(self.root / "exec"),
            "--pidfile",
            str(self.root / "docker.pid"),
            "--containerd-namespace",
            "dockbot-test",
            "--containerd-plugins-namespace",
            "dockbot-test-plugins",
            "--storage-driver",
            "vfs",
            "--cgroup-parent",
            "dockbot-test-engine",
            "--bridge=none",
            "--iptables=false",
            "--ip-masq=false",
            "--ip-forward=false",
            "--shutdown-timeout=2",
        ]

    def start(self, timeout: float = START_TIMEOUT_S) -> None:
        """Start dockerd (unshare execs it: `proc.pid` is dockerd's) and wait until it answers a ping."""
        import docker

        with self.log.open("ab") as log:
            # Its own session: a Ctrl-C meant for pytest does not reach it; stop()/close() end it.
            self.proc = subprocess.Popen(
                self.command(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"test dockerd exited: {self._log_tail()}")
            try:
                client = docker.APIClient(base_url=self.host, timeout=2)
                try:
                    client.ping()
                finally:
                    client.close()
                self.starts += 1
                return
            except Exception:  # not up yet: no socket, refused, or not answering
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"test dockerd did not answer within {timeout:g} s: {self._log_tail()}")

    def stop(self) -> None:
        """SIGTERM, as `systemctl stop docker` does; waits until the daemon (and its containerd) is gone."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)

    def api(self, timeout: float = 10.0) -> Any:
        import docker

        return docker.APIClient(base_url=self.host, timeout=timeout)

    def load_image(self, source: Any, image: str) -> None:
        """Copy `image` from another engine (`source`: a docker APIClient): no registry is reachable."""
        data = b"".join(source.get_image(image))
        client = self.api(timeout=60)
        try:
            client.load_image(data)
        finally:
            client.close()

    def close(self) -> None:
        """Stop the daemon and delete everything it had on disk."""
        self.stop()
        # vfs makes no mounts, but a crashed daemon may leave its exec root's namespaces/shm mounted.
        # `umount -R exec` does nothing when exec itself is no mount point: unmount what is under it, deepest
        # first (dockerd leaves its netns bind mount, exec/netns/default, behind).
        prefix = f"{self.root / 'exec'}/"
        mounted = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()]
        for point in sorted((m for m in mounted if m.startswith(prefix)), key=len, reverse=True):
            subprocess.run(["umount", point], capture_output=True, check=False)
        shutil.rmtree(self.root, ignore_errors=True)

    def _log_tail(self) -> str:
        try:
            return self.log.read_text(errors="replace")[-2000:]
        except OSError as exc:
            return f"(no log: {exc})"


@contextlib.contextmanager
def second_engine(source: Any = None, image: str | None = None) -> Iterator[SecondEngine]:
    """A started SecondEngine (with `image` copied from `source` when given), closed afterwards."""
    engine = SecondEngine.create()
    try:
        engine.start()
        if source is not None and image:
            engine.load_image(source, image)
        yield engine
    finally:
        engine.close()
