"""Socket Mode end to end: the fake apps.connections.open hands out a local websocket server; envelopes go
in, acks and Web API replies come out; refresh requests and silently dead connections lead to new ones."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from slack_harness import (
    APP_TOKEN,
    BOT_TOKEN,
    BOT_USER_ID,
    KNOWLEDGE_DIR,
    REPO,
    STARTED,
    DockbotProcess,
    FakeSlack,
    action_payload,
    command_form,
    dockbot_env,
    event_body,
    mention_event,
)

from bot.brain import build_brain
from bot.config import Settings
from handlers.app import build_app
from handlers.socket_mode import SocketModeWatchdog, start_socket_mode
from handlers.web_client import build_web_client


@pytest.fixture
def fake() -> FakeSlack:
    slack = FakeSlack().start()
    yield slack
    slack.stop()


class _SocketModeProcess(DockbotProcess):
    """`dockbot serve` with SLACK_APP_TOKEN: there is no HTTP port; it is up once the websocket is open."""

    def start_socket(self, fake: FakeSlack, timeout: float = 60.0) -> _SocketModeProcess:
        import subprocess
        import sys

        log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "serve"],
            cwd=REPO,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        STARTED.append(self)
        fake.wait_for(
            lambda: fake.open_sockets >= 1 or self.proc.poll() is not None,
            timeout=timeout,
            what="the Socket Mode connection",
        )
        assert self.proc.poll() is None, self.log_text()
        return self


def test_socket_mode_round_trip_through_dockbot_serve(fake: FakeSlack, tmp_path: Path) -> None:
    heartbeat = tmp_path / "heartbeat"
    env = dockbot_env(
        fake, SLACK_APP_TOKEN=APP_TOKEN, SLACK_SIGNING_SECRET="", DOCKBOT_HEARTBEAT_FILE=str(heartbeat)
    )
    proc = _SocketModeProcess(env, tmp_path / "dockbot.log").start_socket(fake)
    try:
        assert fake.connections_opened == 1
        assert fake.calls_of("apps.connections.open")[0].token == APP_TOKEN

        # An event: acked on the socket, answered in the thread, and a redelivery is answered once.
        event = mention_event(f"<@{BOT_USER_ID}> 명명된 볼륨이 뭐야?", channel="CSOCKET1")
        body = event_body(event)
        envelope = fake.push("events_api", body)
        fake.wait_for(lambda: fake.acked(envelope), what="the event ack")
        (post,) = fake.wait_for(lambda: fake.calls_of("chat.postMessage", "CSOCKET1"), what="the answer")
        assert post.params["thread_ts"] == event["ts"] and post.token == BOT_TOKEN
        again = fake.push("events_api", body, retry_attempt=1)
        fake.wait_for(lambda: fake.acked(again), what="the retry ack")
        # Turned away by the dedupe middleware, which runs before Bolt acks: nothing can follow it.
        fake.wait_for(
            lambda: f"duplicate delivery of {body['event_id']} ignored" in proc.log_text(),
            what="the redelivery's decision",
        )
        assert len(fake.calls_of("chat.postMessage", "CSOCKET1")) == 1

        # A slash command and a button over the socket.
        command = fake.push(
            "slash_commands",
            command_form(
                "/docker",
                "볼륨 정리 방법",
                channel="CSOCKET2",
                user="USOCKET1",
                response_url=fake.response_url("sock"),
            ),
        )
        fake.wait_for(lambda: fake.acked(command), what="the command ack")
        (reply,) = fake.wait_for(lambda: fake.calls_of("response_url:sock"), what="the ephemeral answer")
        assert reply.params["response_type"] == "ephemeral"
        fake.push(
            "interactive",
            action_payload(
                "dockbot_vote_up",
                "volume-named",
                channel="CSOCKET3",
                user="USOCKET1",
                response_url=fake.response_url("sock-vote"),
            ),
        )
        fake.wait_for(lambda: fake.calls_of("response_url:sock-vote"), what="the vote thanks")

        assert heartbeat.exists()
    finally:
        assert proc.stop() == 0
    assert APP_TOKEN not in proc.log_text() and BOT_TOKEN not in proc.log_text()


def test_a_silently_dead_connection_is_noticed_and_replaced(fake: FakeSlack, tmp_path: Path) -> None:
    settings = Settings(
        knowledge_dir=KNOWLEDGE_DIR,
        slack_bot_token=BOT_TOKEN,
        slack_app_token=APP_TOKEN,
        slack_api_url=fake.api_url,
    )
    brain = build_brain(settings, with_demos=False, with_store=False)
    app = build_app(settings, brain, client=build_web_client(settings))
    handler = start_socket_mode(app, settings, ping_interval=0.5)
    heartbeat = tmp_path / "heartbeat"
    # The watchdog's stale limit (1.5 s) is below slack_sdk's own (4 pings = 2 s): the watchdog acts first.
    watchdog = SocketModeWatchdog(handler, heartbeat=heartbeat, check_every_s=0.25, stale_after_s=1.5)
    stop = threading.Event()
    result: list[int] = []
    thread = threading.Thread(target=lambda: result.append(watchdog.run(stop)), daemon=True)
    thread.start()
    try:
        # Healthy and idle: pongs keep it alive, nothing is replaced, the heartbeat is fresh. Five pings
        # answered (0.5 s apart) span more than the stale limit: a watchdog misreading pongs would have acted.
        fake.wait_for(lambda: fake.pongs >= 5, what="five pings answered")
        assert watchdog.reconnects == 0 and fake.connections_opened == 1
        assert time.time() - heartbeat.stat().st_mtime < 1.5

        # Slack asks for a refresh now and then: a new connection is opened at once.
        fake.send_raw({"type": "disconnect", "reason": "refresh_requested"})
        fake.wait_for(
            lambda: fake.connections_opened == 2 and fake.open_sockets == 1, what="the refreshed session"
        )

        fake.freeze()  # TCP stays open, but nothing comes back any more
        fake.wait_for(lambda: fake.connections_opened >= 3, timeout=15, what="a new connection")
        fake.wait_for(lambda: watchdog.reconnects >= 1, what="the watchdog's reconnect")
        fake.wait_for(lambda: handler.client.is_connected(), what="the new session")

        body = event_body(mention_event(f"<@{BOT_USER_ID}> 도커 네트워크 만들기", channel="CREVIVE1"))
        envelope = fake.push("events_api", body)
        fake.wait_for(lambda: fake.acked(envelope), what="the ack on the new connection")
        fake.wait_for(lambda: fake.calls_of("chat.postMessage", "CREVIVE1"), what="the answer after recovery")
    finally:
        stop.set()
        thread.join(5)
        fake.thaw()
        handler.close()
    assert result == [0]


def test_rejected_app_token_exits_with_one_clear_line(fake: FakeSlack, tmp_path: Path) -> None:
    import subprocess
    import sys

    env = dockbot_env(fake, SLACK_APP_TOKEN="xapp-invalid-revoked", SLACK_SIGNING_SECRET="")
    done = subprocess.run(
        [sys.executable, "-m", "bot", "serve"], cwd=REPO, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    lines = [line for line in done.stderr.splitlines() if line.startswith("dockbot:")]
    assert len(lines) == 1 and "SLACK_APP_TOKEN" in lines[0]
