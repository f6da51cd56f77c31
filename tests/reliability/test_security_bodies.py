"""Oversized bodies and what reaches the log (issue 10, findings 2 and 12), on the real `dockbot serve`.

- A Content-Length over the 1 MiB limit is refused with 413 before a byte of the body is read (the refusal
  arrives while the client has sent only headers); four 20 MB bodies at once, announced or chunked, signed
  or not, are refused and the process grows by less than 40 MiB; the server keeps answering.
- At DEBUG: no request body ever reaches the log (unsigned, stale, badly signed, or verified ones that carry
  a marker in a field nobody echoes), no response_url is written (answered, or failing and retried), and
  a request with newlines in a logged field cannot start a log line of its own.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.parse

import pytest
import requests
from slack_harness import (
    BOT_USER_ID,
    DockbotProcess,
    FakeSlack,
    SlackSender,
    command_form,
    dockbot_env,
    event_body,
    free_port,
    mention_event,
    raw_post,
    sign,
)

MIB = 1024 * 1024
BIG = 20_000_000
MARKER = "BODYMARKER7f3a"
FORGED = "2030-01-01 00:00:00,000 ERROR dockbot.slack: FORGED"


@pytest.fixture(scope="module")
def bot(fake: FakeSlack, tmp_path_factory: pytest.TempPathFactory) -> DockbotProcess:
    root = tmp_path_factory.mktemp("bodies")
    env = dockbot_env(fake, DOCKBOT_LOG_LEVEL="DEBUG", DOCKBOT_DB=str(root / "dockbot.db"))
    proc = DockbotProcess(env, root / "dockbot.log").start()
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def slack(bot: DockbotProcess) -> SlackSender:
    return SlackSender(bot.base_url)


def still_serving(bot: DockbotProcess, fake: FakeSlack, slack: SlackSender, channel: str) -> None:
    assert bot.proc is not None and bot.proc.poll() is None, bot.log_text()[-3000:]
    assert requests.get(bot.base_url + "/healthz", timeout=5).status_code == 200
    assert slack.event(event_body(mention_event(f"<@{BOT_USER_ID}> 볼륨이 뭐야?", channel=channel))).ok
    fake.wait_for(lambda: fake.calls_of("chat.postMessage", channel), what=f"an answer in {channel}")


def big_upload(port: int, *, chunked: bool, signed: bool, result: dict[str, int]) -> None:
    """Send a 20 MB body (announced or chunked) as fast as the server takes it; note the status."""
    head = [b"POST /slack/events HTTP/1.1", b"Host: 127.0.0.1", b"Content-Type: application/json"]
    if signed:  # signed for some other body: only the timestamp looks right
        head += [f"{k}: {v}".encode() for k, v in sign("{}").items()]
    head.append(b"Transfer-Encoding: chunked" if chunked else f"Content-Length: {BIG}".encode())
    piece = b"x" * 65536
    sent = 0
    reply = b""
    with socket.create_connection(("127.0.0.1", port), timeout=20) as conn:
        try:
            conn.sendall(b"\r\n".join(head) + b"\r\n\r\n")
            while sent < BIG:
                conn.sendall(b"10000\r\n" + piece + b"\r\n" if chunked else piece)
                sent += len(piece)
            if chunked:
                conn.sendall(b"0\r\n\r\n")
        except OSError:
            pass  # the server answered and closed while we were still sending: expected
        try:
            while b"\r\n" not in reply:
                chunk = conn.recv(4096)
                if not chunk:
                    break
                reply += chunk
        except OSError:
            pass
    result["status"] = int(reply.split()[1]) if reply.startswith(b"HTTP/") else 0
    result["sent"] = sent


def test_an_announced_oversized_body_is_refused_before_it_is_sent(bot: DockbotProcess, figures) -> None:
    with socket.create_connection(("127.0.0.1", bot.port), timeout=10) as conn:
        conn.sendall(
            b"POST /slack/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {BIG}\r\n\r\n".encode()
        )
        reply = conn.recv(4096)  # not one byte of the body was sent
    assert reply.startswith(b"HTTP/1.1 413"), reply[:100]
    # Just over the limit, announced and sent in full, is refused too; just under it is read and checked.
    over = b"x" * (MIB + 1)
    assert raw_post(bot.port, [(b"Content-Type", b"application/json")], over) == 413
    under = b"x" * (MIB - 10)
    assert raw_post(bot.port, [(b"Content-Type", b"application/json")], under) == 401
    figures.add("hostile_network", "oversized_refused", 2)


def test_four_20_mb_bodies_at_once(bot: DockbotProcess, fake: FakeSlack, slack: SlackSender, figures) -> None:
    baseline = bot.status()["VmRSS"]
    peak = [baseline]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak.append(bot.status()["VmRSS"])
            time.sleep(0.02)

    sampler = threading.Thread(target=sample)
    sampler.start()
    results: list[dict[str, int]] = [{} for _ in range(8)]
    try:
        for chunked in (False, True):  # four announced at once, then four chunked at once
            uploads = [
                threading.Thread(
                    target=big_upload,
                    args=(bot.port,),
                    kwargs={"chunked": chunked, "signed": i % 2 == 0, "result": results[i + 4 * chunked]},
                )
                for i in range(4)
            ]
            for upload in uploads:
                upload.start()
            for upload in uploads:
                upload.join(120)
    finally:
        done.set()
        sampler.join()
    assert [r["status"] for r in results] == [413] * 8, results
    grown_mib = (max(peak) - baseline) / 1024
    assert grown_mib < 40, f"RSS grew by {grown_mib:.1f} MiB under 4 x 20 MB bodies"
    figures.add("hostile_network", "oversized_refused", len(results))
    figures.most("hostile_network", "rss_growth_4x20mb_mib", round(grown_mib, 1))
    figures.set(
        "hostile_network",
        "bytes_sent_before_refusal_max_mib",
        round(max(r["sent"] for r in results) / MIB, 1),
    )
    still_serving(bot, fake, slack, "CBIG0001")


def test_no_request_body_reaches_the_log(bot: DockbotProcess, fake: FakeSlack, slack: SlackSender, figures):
    size_before = bot.log_path.stat().st_size
    body = json.dumps(
        event_body(mention_event(f"{MARKER}\n{FORGED} " + "볼륨 " * 50_000, channel="CLOG0001"))
    )
    now = int(time.time())
    refused = {
        "unsigned": {},
        "stale": sign(body, timestamp=now - 600),
        "wrong secret": sign(body, secret="not-the-secret"),
        "timestamp ²": {**sign(body), "X-Slack-Request-Timestamp": "²"},
    }
    for name, headers in refused.items():
        assert slack.post_raw(body, "application/json", headers).status_code == 401, name
    # Verified requests with the marker where nothing echoes it: an extra event field, an event type the
    # bot has no listener for (Bolt warns "unhandled request"), and the bot's own message (Bolt skips it).
    event = mention_event(f"<@{BOT_USER_ID}> 볼륨이 뭐야?", channel="CLOG0002")
    event["x_note"] = MARKER
    assert slack.event(event_body(event)).ok
    unhandled = slack.event(event_body({"type": "reaction_added", "reaction": MARKER, "user": "U1"}))
    assert unhandled.status_code == 404  # Bolt's answer for an event nobody listens to
    own = mention_event(f"{MARKER} 볼륨", channel="CLOG0003", user=BOT_USER_ID)
    own.update(type="message", bot_id="BBOT0001", channel_type="channel")
    assert slack.event(event_body(own)).ok
    fake.wait_for(lambda: fake.calls_of("chat.postMessage", "CLOG0002"), what="the answer")
    time.sleep(0.5)
    log = bot.log_text()
    assert "DEBUG" in log and "Sending a request" in log, "the bot really logged at DEBUG"
    assert MARKER not in log
    assert not any(line.startswith(FORGED) for line in log.splitlines())
    grown = bot.log_path.stat().st_size - size_before
    assert grown < 200_000, f"{grown} bytes of log for 4 refused 600 KB bodies"
    figures.set("hostile_network", "log_bytes_for_refused_and_marked_requests", grown)


def test_newlines_in_a_logged_field_cannot_forge_a_line(bot: DockbotProcess, fake: FakeSlack, slack):
    # A signed /dockbot stats from a "user" whose id carries a newline: the handler logs the user id.
    user = f"UEVIL01\n{FORGED}\r\n\x1b[2J"
    url = fake.response_url("forge")
    slack.command(command_form("/dockbot", "stats", channel="CFORGE01", user=user, response_url=url))
    fake.wait_for(lambda: fake.calls_of("response_url:forge"), what="the polite refusal")
    log = bot.log_text()
    assert "UEVIL01" in log  # the line was written…
    assert not any(line.startswith(FORGED) for line in log.splitlines())  # …as one line
    assert "\x1b" not in log


def test_response_urls_never_reach_the_log(bot: DockbotProcess, fake: FakeSlack, slack, figures) -> None:
    answered = fake.response_url("hook-Kq9Zsecret1")
    slack.command(
        command_form("/docker", "볼륨이 뭐야?", channel="CURL0001", user="UURL01", response_url=answered)
    )
    fake.wait_for(lambda: fake.calls_of("response_url:hook-Kq9Zsecret1"), what="the answer")
    # A response_url that refuses connections: slack_sdk retries it (and would log the URL doing so).
    dead = f"http://127.0.0.1:{free_port()}/hook-Kq9Zsecret2"
    slack.command(
        command_form("/docker", "볼륨이 뭐야?", channel="CURL0002", user="UURL02", response_url=dead)
    )
    fake.wait_for(lambda: fake.calls_of("chat.postEphemeral", "CURL0002"), timeout=30, what="the fallback")
    time.sleep(0.3)
    log = bot.log_text()
    assert "response_url reply failed" in log  # the failure itself is logged…
    for secret in ("hook-Kq9Zsecret1", "hook-Kq9Zsecret2", urllib.parse.quote("hook-Kq9Zsecret1")):
        assert secret not in log  # …never the URL
    figures.add("hostile_network", "response_urls_kept_out_of_debug_log", 2)
