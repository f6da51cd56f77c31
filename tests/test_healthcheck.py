"""`python -m bot.healthcheck`: the image HEALTHCHECK in HTTP mode (/healthz) and Socket Mode (heartbeat)."""

from __future__ import annotations

import http.server
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.healthcheck import check, check_heartbeat, check_http, heartbeat_file


class _Healthz(http.server.BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        code = self.status if self.path == "/healthz" else 404
        self.send_response(code)
        self.end_headers()
        self.wfile.write(b"ok" if code == 200 else b"no")

    def log_message(self, *args: object) -> None:  # keep pytest output clean
        pass


def _serve(status: int) -> Iterator[int]:
    handler = type("Handler", (_Healthz,), {"status": status})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def healthy_port() -> Iterator[int]:
    yield from _serve(200)


@pytest.fixture
def failing_port() -> Iterator[int]:
    yield from _serve(503)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_http_mode_healthy_when_healthz_answers_200(healthy_port: int) -> None:
    health = check_http(healthy_port)
    assert health.ok, health.reason


def test_http_mode_unhealthy_on_error_status(failing_port: int) -> None:
    health = check_http(failing_port)
    assert not health.ok
    assert "503" in health.reason


def test_http_mode_unhealthy_when_nothing_listens() -> None:
    health = check_http(_closed_port(), timeout_s=1)
    assert not health.ok
    assert "unreachable" in health.reason


def test_heartbeat_fresh_stale_and_missing(tmp_path: Path) -> None:
    beat = tmp_path / "beat"
    assert not check_heartbeat(beat, max_age_s=60).ok
    beat.touch()
    assert check_heartbeat(beat, max_age_s=60).ok
    old = time.time() - 120
    os.utime(beat, (old, old))
    stale = check_heartbeat(beat, max_age_s=60)
    assert not stale.ok
    assert "120 s old" in stale.reason


def test_mode_follows_the_app_token(tmp_path: Path, healthy_port: int) -> None:
    beat = tmp_path / "beat"
    socket_env = {
        "SLACK_APP_TOKEN": "xapp-1-test",
        "DOCKBOT_HEARTBEAT_FILE": str(beat),
        "PORT": str(healthy_port),
    }
    # Socket Mode looks only at the heartbeat, even though an HTTP server answers on PORT.
    assert heartbeat_file(socket_env) == beat
    assert not check(socket_env).ok
    beat.touch()
    assert check(socket_env).ok
    assert not check({**socket_env, "DOCKBOT_HEARTBEAT_MAX_AGE": "soon"}).ok
    # HTTP mode: no app token.
    assert check({"PORT": str(healthy_port)}).ok
    assert not check({"PORT": str(_closed_port())}).ok


def test_bad_configuration_is_unhealthy_not_a_traceback() -> None:
    health = check({"PORT": "http"})
    assert not health.ok
    assert "PORT" in health.reason


def test_module_exit_codes(healthy_port: int) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
    ok = subprocess.run(
        [sys.executable, "-m", "bot.healthcheck"],
        env={**env, "PORT": str(healthy_port)},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert ok.stdout.startswith("healthy:")
    bad = subprocess.run(
        [sys.executable, "-m", "bot.healthcheck"],
        env={**env, "PORT": str(_closed_port())},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert bad.returncode == 1
    assert bad.stdout.startswith("unhealthy:")
    assert "Traceback" not in bad.stderr
