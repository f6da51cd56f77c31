"""A flood of idle and half-sent connections (issue 10, finding 3), on the real `dockbot serve` with the
common 1024 open-files limit, over loopback.

1,100 connections (more than the process has file descriptors): a third only connect, a third send half a
request line or half the headers, a third send full headers and half the body; then nothing, and they stay
open. The server must shed them by itself within seconds (the issue allows 30 s until it serves again),
answer /healthz and a signed event again, never run out of descriptors, and tell nobody its software or
Python version in a `Server:` header.
"""

from __future__ import annotations

import resource
import socket
import time

import pytest
import requests
from slack_harness import (
    BOT_USER_ID,
    DockbotProcess,
    FakeSlack,
    SlackSender,
    dockbot_env,
    event_body,
    mention_event,
)

FLOOD = 1100
OPEN_FILES = 1024
RECOVERY_LIMIT_S = 30.0  # the bar; the figure itself goes to docs/reliability.md
PARTIAL = [
    b"",
    b"POST /slack/events HT",
    b"POST /slack/events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: applic",
    b"POST /slack/events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    b'Content-Length: 5000\r\n\r\n{"type": "event_callback", ',
]


@pytest.fixture
def own_file_limit():
    """This test process holds 1,100 sockets: raise its own soft limit for the duration."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = FLOOD + 512
    if hard != resource.RLIM_INFINITY and hard < wanted:
        pytest.skip(f"the hard open-files limit ({hard}) is below the {wanted} this test needs")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, wanted), hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def healthy(base_url: str) -> bool:
    try:
        return requests.get(base_url + "/healthz", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def shed(conn: socket.socket) -> bool:
    """True when the server closed this connection (EOF, reset, or an error response then EOF)."""
    conn.setblocking(False)
    try:
        while True:
            data = conn.recv(65536)
            if not data:
                return True
    except BlockingIOError:
        return False
    except OSError:
        return True


def test_idle_and_half_sent_connections_are_shed(fake: FakeSlack, tmp_path, own_file_limit, figures):
    env = dockbot_env(fake, DOCKBOT_DB=str(tmp_path / "dockbot.db"))
    bot = DockbotProcess(env, tmp_path / "flood.log", open_files=OPEN_FILES).start()
    flood: list[socket.socket] = []
    try:
        response = requests.get(bot.base_url + "/healthz", timeout=5)
        assert "Server" not in response.headers, response.headers
        assert "python" not in str(response.headers).lower()
        for i in range(FLOOD):
            conn = socket.create_connection(("127.0.0.1", bot.port), timeout=5)
            if PARTIAL[i % len(PARTIAL)]:
                conn.sendall(PARTIAL[i % len(PARTIAL)])
            flood.append(conn)
        flooded_at = time.monotonic()
        peak_fds = bot.status()["fds"]
        while not healthy(bot.base_url):
            assert time.monotonic() - flooded_at < RECOVERY_LIMIT_S, "still not serving /healthz"
            peak_fds = max(peak_fds, bot.status()["fds"])
            time.sleep(0.2)
        recovered_s = time.monotonic() - flooded_at
        slack = SlackSender(bot.base_url)
        assert slack.event(event_body(mention_event(f"<@{BOT_USER_ID}> 볼륨이 뭐야?", channel="CFLOOD01"))).ok
        fake.wait_for(
            lambda: fake.calls_of("chat.postMessage", "CFLOOD01"), what="the answer after the flood"
        )
        # Every flood connection was closed by the server, none by us.
        deadline = time.monotonic() + RECOVERY_LIMIT_S
        while (left := sum(not shed(c) for c in flood)) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert left == 0, f"{left} of {FLOOD} idle connections still open"
        shed_s = time.monotonic() - flooded_at
        assert bot.proc is not None and bot.proc.poll() is None
        assert peak_fds < OPEN_FILES
    finally:
        for conn in flood:
            conn.close()
        bot.stop()
    log = bot.log_text()
    assert "accept() threw" not in log and "Too many open files" not in log, log[-3000:]
    figures.set("hostile_network", "flood_connections", FLOOD)
    figures.set("hostile_network", "flood_recovery_s", round(recovered_s, 1))
    figures.set("hostile_network", "flood_all_shed_s", round(shed_s, 1))
    figures.set("hostile_network", "flood_peak_fds", peak_fds)
