"""Nothing unverified ever acts (issue 10, finding 1), through the real `dockbot serve` over raw sockets.

Every request below is one a stranger on the network could send: unsigned, or signed with a timestamp that is
not a plain integer (`²`, 400 or 5,000 digits, `1_700_000_000`, `+…`, empty, negative), or signed properly but
stale, from the future, with the wrong secret, for another body, with a `v1=` or upper-case signature. The
bodies name a channel, a user and a response_url that is a local TCP listener standing in for the attacker's
target. Each must get 401 (or 400), and afterwards the fake Slack Web API must have recorded no call at all
and the listener no connection at all: no answer, no apology, no fetch of the response_url.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.parse

import pytest
from slack_harness import (
    BOT_USER_ID,
    SIGNING_SECRET,
    ConnectionRecorder,
    DockbotProcess,
    FakeSlack,
    action_payload,
    command_form,
    dockbot_env,
    event_body,
    mention_event,
    raw_post,
    sign,
)

CHANNEL = "CATTACK1"
USER = "UATTACK1"


@pytest.fixture(scope="module")
def target() -> ConnectionRecorder:
    recorder = ConnectionRecorder().start()
    yield recorder
    recorder.stop()


@pytest.fixture(scope="module")
def bot(fake: FakeSlack, tmp_path_factory: pytest.TempPathFactory) -> DockbotProcess:
    root = tmp_path_factory.mktemp("unverified")
    env = dockbot_env(
        fake,
        DOCKBOT_DEMO_CHANNELS=CHANNEL,
        DOCKBOT_ADMINS=USER,  # even an "admin" id in a forged body gets nothing
        DOCKBOT_DB=str(root / "dockbot.db"),
    )
    proc = DockbotProcess(env, root / "dockbot.log").start()
    yield proc
    proc.stop()


def signature(body: bytes, timestamp: bytes, secret: str = SIGNING_SECRET) -> bytes:
    base = b"v0:" + timestamp + b":" + body
    return b"v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest().encode()


def forged_bodies(target: ConnectionRecorder) -> dict[str, tuple[bytes, bytes]]:
    """(body, content type) of every kind the bot acts on, each naming the attacker's response_url."""
    url = target.url("ssrf")
    form = "application/x-www-form-urlencoded"

    def command(name: str, text: str) -> bytes:
        fields = command_form(name, text, channel=CHANNEL, user=USER, response_url=url)
        return urllib.parse.urlencode(fields).encode()

    def action(action_id: str, value: str) -> bytes:
        payload = action_payload(action_id, value, channel=CHANNEL, user=USER, response_url=url)
        return urllib.parse.urlencode({"payload": json.dumps(payload)}).encode()

    mention = event_body(mention_event(f"<@{BOT_USER_ID}> 볼륨이 뭐야?", channel=CHANNEL, user=USER))
    return {
        "mention": (json.dumps(mention).encode(), b"application/json"),
        "/docker": (command("/docker", "볼륨이 뭐야?"), form.encode()),
        "/dockbot stats": (command("/dockbot", "stats"), form.encode()),
        "/demo": (command("/demo", "volumes"), form.encode()),
        "vote": (action("dockbot_vote_up", "volume-named"), form.encode()),
        "share": (action("dockbot_share", "volume-named"), form.encode()),
        "not json": (b"{not json", b"application/json"),
        "json null": (b"null", b"application/json"),
    }


def bad_headers(body: bytes) -> dict[str, list[tuple[bytes, bytes]]]:
    now = str(int(time.time())).encode()

    def signed(timestamp: bytes, **kw: str) -> list[tuple[bytes, bytes]]:
        return [
            (b"X-Slack-Request-Timestamp", timestamp),
            (b"X-Slack-Signature", signature(body, timestamp, **kw)),
        ]

    def unsigned(timestamp: bytes) -> list[tuple[bytes, bytes]]:
        return [(b"X-Slack-Request-Timestamp", timestamp)]

    good = signature(body, now)
    cases: dict[str, list[tuple[bytes, bytes]]] = {
        "no headers": [],
        "signature only": [(b"X-Slack-Signature", good)],
        "wrong secret": signed(now, secret="not-the-secret"),
        "signature of another body": [
            (b"X-Slack-Request-Timestamp", now),
            (b"X-Slack-Signature", signature(body + b" ", now)),
        ],
        "v1 signature": [(b"X-Slack-Request-Timestamp", now), (b"X-Slack-Signature", b"v1=" + good[3:])],
        "upper-case signature": [(b"X-Slack-Request-Timestamp", now), (b"X-Slack-Signature", good.upper())],
        "truncated signature": [(b"X-Slack-Request-Timestamp", now), (b"X-Slack-Signature", good[:-1])],
        "signature with a tail": [(b"X-Slack-Request-Timestamp", now), (b"X-Slack-Signature", good + b"00")],
        "empty signature": [(b"X-Slack-Request-Timestamp", now), (b"X-Slack-Signature", b"")],
        # A minute past Slack's 5-minute window either way: a slow start of the request on a busy machine
        # cannot bring it back inside (at 301 s, one second of delay did).
        "stale (6 min)": signed(str(int(now) - 360).encode()),
        "an hour old": signed(str(int(now) - 3600).encode()),
        "future (6 min)": signed(str(int(now) + 360).encode()),
    }
    odd_timestamps = {
        "superscript two": "²".encode("latin-1"),
        "superscript digits": "¹²³".encode("latin-1"),
        "400 digits": b"9" * 400,
        "5,000 digits": b"1" * 5000,
        "13 digits": b"1" + now,
        "empty": b"",
        "negative": b"-" + now,
        "minus one": b"-1",
        "plus sign": b"+" + now,
        "underscores": f"{int(now):_}".encode(),
        "decimal": now + b".0",
        "hex": hex(int(now)).encode(),
        "exponent": b"1.7e9",
        "nan": b"nan",
        "leading zeros (13 chars)": b"000" + now,
        "utf-8 full-width digits": "１７００００００００".encode(),
        "arabic-indic digits": "١٧٠٠٠٠٠٠٠٠".encode(),
        "nul inside": now[:4] + b"\x00" + now[4:],
    }
    for name, timestamp in odd_timestamps.items():
        cases[f"unsigned, timestamp {name}"] = unsigned(timestamp)
        cases[f"signed, timestamp {name}"] = signed(timestamp)
    return cases


def test_nothing_unverified_is_acted_on(bot: DockbotProcess, fake: FakeSlack, target, figures) -> None:
    before = list(fake.calls)  # auth.test at start-up
    statuses: dict[int, int] = {}
    sent = 0
    for kind, (body, content_type) in forged_bodies(target).items():
        for case, headers in bad_headers(body).items():
            status = raw_post(bot.port, [(b"Content-Type", content_type), *headers], body)
            statuses[status] = statuses.get(status, 0) + 1
            assert status in (400, 401), (kind, case, status)
            sent += 1
    time.sleep(1.0)  # anything the bot would post or fetch for them has had its chance
    assert fake.calls == before, fake.summary()
    assert target.received == [], target.received[:3]
    log = bot.log_text()
    assert "Traceback" not in log, log[-3000:]
    figures.add("security_unverified", "forged_requests_refused", sent)
    figures.set("security_unverified", "statuses", {str(k): v for k, v in sorted(statuses.items())})


def test_the_same_requests_signed_now_are_answered(bot: DockbotProcess, fake: FakeSlack, target) -> None:
    """The refusals were about the signature alone: the bot does act on these bodies once Slack signs them."""
    bodies = forged_bodies(target)
    for kind in ("mention", "/docker"):
        body, content_type = bodies[kind]
        signed = [(k.encode(), v.encode()) for k, v in sign(body.decode()).items()]
        assert raw_post(bot.port, [(b"Content-Type", content_type), *signed], body) == 200, kind
    fake.wait_for(lambda: fake.calls_of("chat.postMessage", CHANNEL), what="the answer to the signed mention")
    fake.wait_for(lambda: target.received, what="the answer posted to the response_url of a signed /docker")


def test_bolts_error_path_alone_never_replies_to_an_unverified_request(fake: FakeSlack, target) -> None:
    """Defence in depth: the Bolt App hosted without our gate (any WSGI adapter) still never acts on an
    unverified body. Bolt's own check raises on "²" and hands the body to the error handler: it must stay
    silent there."""
    from slack_bolt import BoltRequest
    from slack_harness import BOT_TOKEN, KNOWLEDGE_DIR

    from bot.brain import build_brain
    from bot.config import Settings
    from handlers.app import build_app

    settings = Settings(
        knowledge_dir=KNOWLEDGE_DIR,
        slack_bot_token=BOT_TOKEN,
        slack_signing_secret=SIGNING_SECRET,
        slack_api_url=fake.api_url,
    )
    app = build_app(settings, build_brain(settings, with_demos=False, with_store=False))
    before, fetched = list(fake.calls), len(target.received)
    for kind, (body, content_type) in forged_bodies(target).items():
        if kind in ("not json", "json null"):
            continue
        headers = {"content-type": content_type.decode(), "x-slack-request-timestamp": "²"}
        response = app.dispatch(BoltRequest(body=body.decode(), headers=headers))
        assert response.status >= 400, kind
    time.sleep(0.5)
    assert fake.calls == before, fake.summary()
    assert len(target.received) == fetched
