"""Shared fixtures. Area-specific fixtures live in the area's own test modules.

Tests that need a real Docker engine use `docker_client`: without an engine they skip with the reason
locally, and fail under CI=true (CI must prove the demos on a real engine).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
KNOWLEDGE = REPO / "knowledge"


@pytest.fixture(autouse=True)
def isolated_environment(tmp_path_factory, monkeypatch):
    """No test writes the real ~/.cache/dockbot (one cache for the session, so models train once), and
    whatever a test sets in os.environ is undone after it."""
    saved = dict(os.environ)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.getbasetemp() / "xdg-cache"))
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    """A `dockbot serve` a test body started (not a fixture's, which its teardown stops) ends with the test,
    also when an assertion fails before the test's own stop()."""
    from slack_harness import STARTED

    before = len(STARTED)
    try:
        return (yield)
    finally:
        for proc in STARTED[before:]:
            proc.stop()


@pytest.fixture(scope="session", autouse=True)
def no_dockbot_left_running():
    """Whatever a fixture left running is stopped when the session ends."""
    yield
    from slack_harness import STARTED

    for proc in STARTED:
        proc.stop()


@pytest.fixture
def spawn():
    """subprocess.Popen for one test: whatever it started is killed, reaped and its pipes closed when the
    test ends, passed or failed (a failing assertion must not leave a `dockbot` process behind)."""
    started: list[subprocess.Popen] = []

    def start(*args, **kwargs) -> subprocess.Popen:
        proc = subprocess.Popen(*args, **kwargs)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


@pytest.fixture(scope="session")
def docker_client():
    try:
        import docker

        client = docker.from_env(timeout=15)
        client.ping()
    except Exception as exc:  # any failure means "no usable engine"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true but no Docker engine is reachable: {exc}")
        pytest.skip(f"no Docker engine reachable: {exc}")
    _ensure_demo_image(client, os.environ.get("DOCKBOT_DEMO_IMAGE", "").strip() or "busybox:1.36")
    yield client
    client.close()


@pytest.fixture(scope="session")
def engine_host(docker_client) -> str:
    """The DOCKER_HOST URL `docker_client` reached (the docker SDK's default when unset)."""
    return os.environ.get("DOCKER_HOST", "").strip() or "unix:///var/run/docker.sock"


def _ensure_demo_image(client, image: str) -> None:
    """The demo image exists, or is built from demo-images/Dockerfile with Debian's static busybox as
    .ci/docker-engine.sh does (no registry is reachable to pull it); without /bin/busybox the demo tests
    skip with the reason (and fail under CI=true) instead of timing out on a missing image."""
    import docker

    try:
        client.images.get(image)
        return
    except docker.errors.ImageNotFound:
        pass
    from demo_image import BUSYBOX, build_demo_image

    if not BUSYBOX.is_file():
        reason = f"demo image {image} is missing and {BUSYBOX} (busybox-static) is absent to build it"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true but {reason}")
        pytest.skip(reason)
    build_demo_image(client, image)


@pytest.fixture(scope="session")
def kube_cluster():
    """A real Kubernetes cluster (tests/kube_cluster.py): DOCKBOT_KUBECONFIG, or one started by
    .ci/kube-cluster.sh; skips with the reason, fails under CI=true."""
    from tests.kube_cluster import TestCluster, unavailable_reason

    reason = unavailable_reason()
    if not reason:
        try:
            cluster = TestCluster.get()
        except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
            reason = f"the test Kubernetes cluster could not be started: {exc}"
    if reason:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true but no Kubernetes cluster: {reason}")
        pytest.skip(reason)
    try:
        yield cluster
    finally:
        cluster.close()


@pytest.fixture(scope="session")
def postgres_server():
    """A test-owned PostgreSQL (tests/postgres_server.py); skips with the reason, fails under CI=true."""
    from tests.postgres_server import PostgresServer, unavailable_reason

    reason = unavailable_reason()
    if reason:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true but no test PostgreSQL can run: {reason}")
        pytest.skip(reason)
    server = PostgresServer.create()
    try:
        server.start()
        yield server
    finally:
        server.close()


@pytest.fixture
def postgres_url(postgres_server, request) -> str:
    """A fresh database of the test PostgreSQL for one test."""
    name = "t_" + "".join(c if c.isalnum() else "_" for c in request.node.name)[:50].lower()
    return postgres_server.new_database(name)


@pytest.fixture(scope="module")
def fake():
    """A local fake Slack Web API (tests/slack_harness.py) shared by one test module's bot process."""
    from slack_harness import FakeSlack  # imported here: only Slack tests pay for aiohttp

    slack = FakeSlack().start()
    yield slack
    slack.stop()


@pytest.fixture
def knowledge_copy(tmp_path: Path) -> Path:
    """A private copy of the repo's knowledge/ that a test may edit."""
    target = tmp_path / "knowledge"
    shutil.copytree(KNOWLEDGE, target)
    return target
