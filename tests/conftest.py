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
    yield client
    client.close()


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
