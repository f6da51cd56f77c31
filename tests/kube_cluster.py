"""The test Kubernetes cluster: DOCKBOT_KUBECONFIG when set, else `.ci/kube-cluster.sh up` (built once and
cached by source version; ../shared/research/kubernetes-here.md). Used by tests/test_demo_kube.py and
bench/bench_k8s_demo.py. `unavailable_reason()` says why no cluster can be had here (for a skip)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / ".ci" / "kube-cluster.sh"
RUN_DIR = Path(os.environ.get("DOCKBOT_KUBE_RUN_DIR", "/var/lib/dockbot-kube"))
# The engine the cluster's kubelet runs pods on (dockershim's default endpoint in .ci/kube-cluster.sh),
# which need not be DOCKER_HOST's (the Docker demos' engine).
NODE_DOCKER_HOST = "unix:///var/run/docker.sock"
UP_TIMEOUT_S = 1800  # a cold build is ~8 min on 2 cores; a cached one starts in ~20 s


def unavailable_reason() -> str:
    if os.environ.get("DOCKBOT_KUBECONFIG"):
        return ""
    if os.geteuid() != 0:
        return "no DOCKBOT_KUBECONFIG, and building the test cluster needs root"
    for tool in ("docker", "bash", "apt-get", "openssl", "curl"):
        if shutil.which(tool) is None:
            return f"no DOCKBOT_KUBECONFIG, and {tool} (needed to build the test cluster) is missing"
    return ""


class TestCluster:
    """A kubeconfig path; `close()` stops the cluster only when this object started it."""

    def __init__(self, kubeconfig: str, started_here: bool):
        self.kubeconfig = kubeconfig
        self.started_here = started_here

    @classmethod
    def get(cls) -> TestCluster:
        configured = os.environ.get("DOCKBOT_KUBECONFIG", "")
        if configured:
            return cls(configured, started_here=False)
        running = (RUN_DIR / "pids" / "kubelet").exists()
        done = subprocess.run(
            ["bash", str(SCRIPT), "up"], capture_output=True, text=True, timeout=UP_TIMEOUT_S, check=False
        )
        lines = done.stdout.strip().splitlines()
        if done.returncode != 0 or not lines or not lines[-1].startswith("KUBECONFIG="):
            raise RuntimeError(f"kube-cluster.sh up failed ({done.returncode}): {done.stderr[-2000:]}")
        return cls(lines[-1].split("=", 1)[1], started_here=not running)

    def close(self) -> None:
        if self.started_here:
            subprocess.run(["bash", str(SCRIPT), "down"], capture_output=True, timeout=300, check=False)
