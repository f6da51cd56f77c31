"""A pool of demo engines (DOCKER_HOST=a,b with TLS settings per host).

Parsing and the least-busy choice are unit tests; the pool itself runs against the real engine next to a
DOCKER_HOST entry that answers nothing (a unix socket path nobody listens on): the demo goes to the live
engine, the dead one is skipped (and tried again later), and `gc` sweeps what it can reach."""

from __future__ import annotations

import logging
import socket
from pathlib import Path

import pytest

from bot.config import ConfigError, DockerHost, Settings, docker_hosts
from bot.demos.engine_pool import EnginePool
from bot.demos.errors import EngineUnavailable
from bot.demos.scenario import load_scenarios
from bot.demos.service import DemoService

REPO = Path(__file__).resolve().parent.parent
IMAGE = "busybox:1.36"


def test_one_tls_setting_for_all_hosts_or_one_per_host():
    hosts = docker_hosts(
        {
            "DOCKER_HOST": "tcp://a:2376, tcp://b:2376",
            "DOCKER_TLS_VERIFY": "1",
            "DOCKER_CERT_PATH": "/certs/a,/certs/b",
        }
    )
    assert hosts == (DockerHost("tcp://a:2376", "1", "/certs/a"), DockerHost("tcp://b:2376", "1", "/certs/b"))
    assert hosts[1].environment() == {
        "DOCKER_HOST": "tcp://b:2376",
        "DOCKER_TLS_VERIFY": "1",
        "DOCKER_CERT_PATH": "/certs/b",
    }
    mixed = docker_hosts(
        {
            "DOCKER_HOST": "unix:///var/run/docker.sock,tcp://b:2376",
            "DOCKER_TLS_VERIFY": ",1",
            "DOCKER_CERT_PATH": ",/certs/b",
        }
    )
    assert mixed[0].environment() == {"DOCKER_HOST": "unix:///var/run/docker.sock"}  # no TLS for the socket
    assert docker_hosts({}) == (DockerHost(),)


@pytest.mark.parametrize(
    "env",
    [
        {"DOCKER_HOST": "tcp://a:2376,,tcp://b:2376"},
        {"DOCKER_HOST": "tcp://a:2376,tcp://b:2376,tcp://c:2376", "DOCKER_CERT_PATH": "/x,/y"},
    ],
)
def test_a_malformed_pool_names_the_variable(env):
    with pytest.raises(ConfigError, match="DOCKER_"):
        Settings.from_env(env)


def test_the_least_busy_healthy_engine_is_chosen_and_a_dead_one_skipped():
    asked: list[str] = []

    def factory(environment):
        host = environment.get("DOCKER_HOST", "")
        asked.append(host)
        if host == "tcp://dead:2376":
            raise EngineUnavailable("엔진 없음", "dead")
        return object()

    pool = EnginePool(
        (DockerHost("tcp://a:2376"), DockerHost("tcp://dead:2376"), DockerHost("tcp://b:2376")),
        image=IMAGE,
        factory=factory,
        checks=False,
    )
    assert pool.pick({"tcp://a:2376": 2, "tcp://b:2376": 1}) == "tcp://b:2376"
    assert pool.pick({"tcp://a:2376": 1, "tcp://b:2376": 1, "tcp://dead:2376": 0}) == "tcp://a:2376"
    assert asked.count("tcp://dead:2376") == 1
    # The dead engine is not asked again until RETRY_AFTER_S has passed.
    assert pool.pick({"tcp://dead:2376": 0, "tcp://a:2376": 5, "tcp://b:2376": 5}) == "tcp://a:2376"
    assert asked.count("tcp://dead:2376") == 1


@pytest.fixture
def dead_socket(tmp_path: Path) -> str:
    path = tmp_path / "nobody.sock"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    server.close()  # the file exists, nothing listens: connection refused
    return f"unix://{path}"


@pytest.mark.docker
def test_a_demo_runs_on_the_live_engine_of_a_pool_with_a_dead_one(
    docker_client, engine_host, dead_socket, caplog
):
    live = engine_host
    scenarios = load_scenarios(REPO / "knowledge" / "demos")[0]
    settings = Settings.from_env({"DOCKER_HOST": f"{dead_socket},{live}"})
    demos = DemoService(lambda: scenarios, image=IMAGE, hosts=settings.docker_hosts)
    try:
        with caplog.at_level(logging.WARNING, logger="bot.demos.engine_pool"):
            run = demos.run("volumes", user="UPOOL1")
        assert run.ok, run.error
        assert any(
            "does not answer" in r.getMessage() and dead_socket in r.getMessage() for r in caplog.records
        )
        label = {"label": f"dockbot.demo={run.run_id}"}
        assert not docker_client.containers.list(all=True, filters=label)
        assert not docker_client.volumes.list(filters=label)
        # gc reaches what it can and names what it cannot; it fails only when no engine answers.
        with caplog.at_level(logging.WARNING, logger="bot.demos.service"):
            demos.gc()
        assert any("gc: engine" in r.getMessage() for r in caplog.records)
    finally:
        demos.close()
    only_dead = DemoService(
        lambda: scenarios, image=IMAGE, hosts=Settings.from_env({"DOCKER_HOST": dead_socket}).docker_hosts
    )
    try:
        with pytest.raises(EngineUnavailable):
            only_dead.gc()
    finally:
        only_dead.close()
