"""Docker engines for the fault tests: what an engine still holds labelled, and a test-owned dockerd.

The test-owned dockerd has its own network namespace, socket, data root, exec root and pidfile, no default
bridge and no iptables rules, so stopping it mid-demo never disturbs the main engine that other tests use.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

LABEL = "dockbot.demo"


def labelled(api: Any, run_id: str | None = None) -> list[str]:
    """Every container, volume and network labelled dockbot.demo (or with that run id) on `api`'s engine."""
    selector = {"label": f"{LABEL}={run_id}" if run_id else LABEL}
    found = [f"container {c['Id'][:12]}" for c in api.containers(all=True, filters=selector)]
    found += [f"network {n['Name']}" for n in api.networks(filters=selector)]
    found += [f"volume {v['Name']}" for v in api.volumes(filters=selector).get("Volumes") or []]
    return found


class SecondEngine:
    """A dockerd this suite owns: it may be stopped mid-demo and started again."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.socket = root / "docker.sock"
        self.host = f"unix://{self.socket}"
        self.log = root / "dockerd.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self, timeout: float = 60.0) -> None:
        import docker

        log = self.log.open("ab")
        self.proc = subprocess.Popen(
            [
                # Its own network namespace: a dockerd with --bridge=none in the host's namespace deletes the
                # main engine's docker0 at start-up (see tests/second_engine.py).
                "unshare",
                "--net",
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
                # No default bridge and no iptables: nothing this engine does touches the main engine's setup.
                "--bridge=none",
                "--iptables=false",
                "--ip-masq=false",
                "--shutdown-timeout=2",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"test dockerd exited: {self.log.read_text()[-2000:]}")
            try:
                client = docker.APIClient(base_url=self.host, timeout=2)
                client.ping()
                client.close()
                self.starts += 1
                return
            except Exception:
                time.sleep(0.2)
        raise RuntimeError(f"test dockerd did not answer: {self.log.read_text()[-2000:]}")

    def stop(self) -> None:
        """SIGTERM, as `systemctl stop docker` does; waits until the daemon is gone."""
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


def owned_by(api: Any, pid: int) -> list[str]:
    """Demo objects that process `pid` on this host created (the runner's `dockbot.owner` label)."""
    selector = {"label": f"dockbot.owner={socket.gethostname()}:{pid}"}
    found = [f"container {c['Id'][:12]}" for c in api.containers(all=True, filters=selector)]
    found += [f"network {n['Name']}" for n in api.networks(filters=selector)]
    found += [f"volume {v['Name']}" for v in api.volumes(filters=selector).get("Volumes") or []]
    return found
