"""Bad Slack payloads against the real `dockbot serve` (HTTP mode, a subprocess, fake Slack Web API).

Malformed JSON, missing fields, wrong types, unknown event types and oversized bodies get a 4xx or are
acknowledged and ignored, never a 5xx or a dead server; bad signatures and timestamps older than 5 minutes
are rejected with 401. After every batch the server still answers /healthz and a real question.
"""

from __future__ import annotations

import json
import socket
import time
import urllib.parse

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from slack_harness import (
    BOT_USER_ID,
    DockbotProcess,
    FakeSlack,
    SlackSender,
    command_form,
    dockbot_env,
    event_body,
    mention_event,
    sign,
)

EVENT_TYPES = [
    "app_mention",
    "message",
    "app_home_opened",
    "reaction_added",
    "channel_created",
    "team_join",
    "member_joined_channel",
    "link_shared",
    "tokens_revoked",
    "app_uninstalled",
    "x_unknown",
    "",
]
OUTER_TYPES = [
    "event_callback",
    "url_verification",
    "app_rate_limited",
    "block_actions",
    "view_submission",
    "shortcut",
    "interactive_message",
    "x_unknown",
    "",
]


@pytest.fixture(scope="module")
def dockbot(fake: FakeSlack, tmp_path_factory) -> DockbotProcess:
    env = dockbot_env(fake, DOCKBOT_DEMO_CHANNELS="CDEMO001", DOCKBOT_ADMINS="UADMIN01")
    proc = DockbotProcess(env, tmp_path_factory.mktemp("fuzz-slack") / "dockbot.log").start()
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def slack(dockbot: DockbotProcess) -> SlackSender:
    return SlackSender(dockbot.base_url)


def still_serving(dockbot: DockbotProcess, fake: FakeSlack, slack: SlackSender, channel: str) -> None:
    """The process lives, /healthz answers, and a real mention still gets exactly one answer."""
    assert dockbot.proc is not None and dockbot.proc.poll() is None, dockbot.log_text()[-3000:]
    assert requests.get(dockbot.base_url + "/healthz", timeout=5).status_code == 200
    question = event_body(mention_event(f"<@{BOT_USER_ID}> 볼륨이 뭐야?", channel=channel))
    assert slack.event(question).status_code == 200
    fake.wait_for(lambda: fake.calls_of("chat.postMessage", channel), what=f"an answer in {channel}")
    time.sleep(0.2)
    assert len(fake.calls_of("chat.postMessage", channel)) == 1


json_scalar = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=30)
)
json_value = st.recursive(
    json_scalar,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=5)
    ),
    max_leaves=20,
)
slack_ids = st.one_of(st.sampled_from(["C0000001", "D0000001", "G1", "", "U1"]), json_value)


@st.composite
def events(draw: st.DrawFn) -> dict:
    event: dict = {}
    for key, value in (
        ("type", st.one_of(st.sampled_from(EVENT_TYPES), json_value)),
        ("channel", slack_ids),
        ("user", slack_ids),
        ("text", st.one_of(st.text(max_size=200), json_value)),
        ("ts", st.one_of(st.sampled_from(["1710000000.000100", "", "x"]), json_value)),
        ("thread_ts", json_value),
        ("channel_type", st.one_of(st.sampled_from(["im", "channel"]), json_value)),
        ("subtype", st.one_of(st.sampled_from(["bot_message", "message_changed", "file_share"]), json_value)),
        ("bot_id", json_value),
        ("files", json_value),
        ("blocks", json_value),
    ):
        if draw(st.booleans()):
            event[key] = draw(value)
    return event


@st.composite
def bodies(draw: st.DrawFn) -> dict | list | str | int | None:
    kind = draw(st.sampled_from(["event", "outer", "anything"]))
    if kind == "anything":
        return draw(json_value)
    body = event_body(draw(events()))
    if kind == "outer":
        body["type"] = draw(st.one_of(st.sampled_from(OUTER_TYPES), json_value))
        for key in draw(st.lists(st.sampled_from(sorted(body)), max_size=4)):
            body.pop(key, None)
        if draw(st.booleans()):
            body["challenge"] = draw(json_value)
    return body


@settings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(body=bodies())
def test_signed_garbage_events_never_5xx(dockbot, fake, slack, figures, body):
    response = slack.event(body)  # type: ignore[arg-type]
    assert response.status_code < 500, (response.status_code, response.text[:300], body)
    figures.add("fuzz_slack", "payloads")


@st.composite
def forms(draw: st.DrawFn) -> dict[str, str]:
    form = command_form(
        draw(st.sampled_from(["/docker", "/demo", "/dockbot", "/unknown", ""])),
        draw(st.text(max_size=300)),
        channel="CFUZZ001",
        user="UFUZZ001",
        response_url="http://127.0.0.1:9/nowhere",
    )
    for key in draw(st.lists(st.sampled_from(sorted(form)), max_size=6, unique=True)):
        del form[key]
    for key in draw(
        st.lists(st.sampled_from(["payload", "command", "text", "channel_id", "response_url"]), max_size=2)
    ):
        form[key] = draw(st.text(max_size=100))
    return form


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(form=forms())
def test_signed_garbage_commands_and_actions_never_5xx(dockbot, fake, slack, figures, form):
    response = slack.command(form)
    assert response.status_code < 500, (response.status_code, response.text[:300], form)
    figures.add("fuzz_slack", "payloads")


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(payload=st.one_of(json_value, st.text(max_size=200)))
def test_signed_garbage_button_payloads_never_5xx(dockbot, fake, slack, figures, payload):
    raw = urllib.parse.urlencode({"payload": payload if isinstance(payload, str) else json.dumps(payload)})
    response = slack.post_raw(raw, "application/x-www-form-urlencoded", sign(raw))
    assert response.status_code < 500, (response.status_code, response.text[:300], payload)
    figures.add("fuzz_slack", "payloads")


def test_server_survived_the_fuzzing(dockbot, fake, slack, figures):
    still_serving(dockbot, fake, slack, "CALIVE01")
    log = dockbot.log_text()
    # No request ever escaped to the HTTP server as a 500 (waitress logs those with a traceback).
    assert "Exception while serving" not in log, log[-5000:]
    figures.set("fuzz_slack", "listener_errors_logged", log.count("listener failed"))


MALFORMED = {
    "not json": ("{not json", "application/json"),
    "truncated json": ('{"type": "event_callback", "event": {"type": "app_mention"', "application/json"),
    "json array": ("[1, 2, 3]", "application/json"),
    "json string": ('"hello"', "application/json"),
    "json null": ("null", "application/json"),
    "empty": ("", "application/json"),
    "binary": ("\udcff\x00\x01" * 10, "application/octet-stream"),
    "form without payload": ("a=b&c=d", "application/x-www-form-urlencoded"),
    "payload not json": ("payload=%7Bnope", "application/x-www-form-urlencoded"),
    "payload json list": ("payload=%5B1%5D", "application/x-www-form-urlencoded"),
    "text/plain": ("hello", "text/plain"),
    "deep json": ("[" * 50_000 + "]" * 50_000, "application/json"),
}


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_signed_bodies_get_4xx_or_are_ignored(dockbot, fake, slack, figures, name):
    body, content_type = MALFORMED[name]
    body = body.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    before = len(fake.calls_of("chat.postMessage"))
    response = slack.post_raw(body, content_type, sign(body))
    assert response.status_code < 500, (response.status_code, response.text[:300])
    assert len(fake.calls_of("chat.postMessage")) == before
    figures.add("fuzz_slack", "malformed_bodies")


def test_oversized_bodies(dockbot, fake, slack, figures):
    """A 5 MB signed mention and a 20 MB junk body: answered or refused, and the server keeps serving."""
    huge_text = f"<@{BOT_USER_ID}> " + "볼륨 " * 1_700_000  # ~5 MB of UTF-8
    response = slack.event(event_body(mention_event(huge_text, channel="CHUGE001")))
    assert response.status_code < 500
    junk = "x" * 20_000_000
    response = slack.post_raw(junk, "application/json", sign(junk))
    assert 400 <= response.status_code < 500
    figures.add("fuzz_slack", "oversized_bodies", 2)
    still_serving(dockbot, fake, slack, "CALIVE02")


def test_a_stalled_upload_does_not_block_other_requests(dockbot, fake, slack, figures):
    """A client that announces 100 MB and sends nothing holds one thread, not the server."""
    stalled = socket.create_connection(("127.0.0.1", dockbot.port), timeout=5)
    try:
        stalled.sendall(
            b"POST /slack/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100000000\r\n\r\n{"
        )
        still_serving(dockbot, fake, slack, "CALIVE03")
    finally:
        stalled.close()
    figures.add("fuzz_slack", "oversized_bodies")


def test_bad_signatures_and_stale_or_future_timestamps_are_rejected(dockbot, fake, slack, figures):
    raw = json.dumps(event_body(mention_event(f"<@{BOT_USER_ID}> 볼륨", channel="CSIGN001")))
    now = int(time.time())
    good = sign(raw)
    cases = {
        "no headers": {},
        "wrong secret": sign(raw, secret="not-the-secret"),
        "older than 5 minutes": sign(raw, timestamp=now - 5 * 60 - 30),
        "an hour old": sign(raw, timestamp=now - 3600),
        "10 minutes in the future": sign(raw, timestamp=now + 600),
        "signature of another body": sign(raw + " "),
        "timestamp not a number": {**good, "X-Slack-Request-Timestamp": "yesterday"},
        "signature v1": {**good, "X-Slack-Signature": good["X-Slack-Signature"].replace("v0=", "v1=")},
        "empty signature": {**good, "X-Slack-Signature": ""},
        "signature only": {"X-Slack-Signature": good["X-Slack-Signature"]},
    }
    for name, headers in cases.items():
        response = slack.post_raw(raw, "application/json", headers)
        assert response.status_code == 401, (name, response.status_code)
        figures.add("fuzz_slack", "bad_signatures_rejected")
    time.sleep(0.3)
    # Nothing at all reached Slack for those: no answer, and no apology posted where an unverified body says.
    assert fake.calls_in("CSIGN001") == []
    # The same body, signed now, is answered: the rejections were about the signature alone.
    assert slack.post_raw(raw, "application/json", sign(raw)).status_code == 200
    fake.wait_for(lambda: fake.calls_of("chat.postMessage", "CSIGN001"), what="the signed request's answer")
