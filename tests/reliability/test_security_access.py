"""Access and secrets, through the real `dockbot serve` (HTTP, signed requests, fake Slack Web API):

- only DOCKBOT_ADMINS may reload or read stats, however the user id is dressed up, and what others asked
  (question texts in the store) never reaches a non-admin, not in a reply and not in the App Home tab;
- demos outside DOCKBOT_DEMO_CHANNELS are refused (command and button, look-alike channel ids too) and
  create nothing on the engine;
- a full serve session at DEBUG log level with distinctive secret values (questions, DMs, /docker, a real
  demo, admin commands, buttons, Web API errors and 429s, forged and stale requests, a broken knowledge edit)
  leaves no token or signing secret in the logs, stdout/stderr or the database file.
"""

from __future__ import annotations

import json
import shutil
import time

import pytest
from slack_harness import (
    BOT_USER_ID,
    REPO,
    DockbotProcess,
    FakeSlack,
    SlackSender,
    action_payload,
    command_form,
    dm_event,
    dockbot_env,
    event_body,
    mention_event,
    sign,
)

from tests.reliability.engines import owned_by

ADMIN = "UADMIN01"
DEMO_CHANNEL = "CDEMO001"
SECRET_QUESTION = "비밀스러운질문 쿼카프로젝트 배포 일정"
NOT_ADMINS = [
    "UOTHER01",
    "uadmin01",
    " UADMIN01",
    "UADMIN011",
    "UADMIN0",
    "",
    "UADMIN01,UOTHER01",
    "<@UADMIN01>",
]
NOT_DEMO_CHANNELS = ["COTHER01", "CDEMO0011", "cdemo001", "CDEMO00", "DUSER0001", "GPRIVATE1", ""]


@pytest.fixture(scope="module")
def bot(fake, tmp_path_factory) -> DockbotProcess:
    root = tmp_path_factory.mktemp("access")
    env = dockbot_env(
        fake, DOCKBOT_ADMINS=ADMIN, DOCKBOT_DEMO_CHANNELS=DEMO_CHANNEL, DOCKBOT_DB=str(root / "dockbot.db")
    )
    proc = DockbotProcess(env, root / "dockbot.log").start()
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def slack(bot) -> SlackSender:
    return SlackSender(bot.base_url)


def test_only_admins_reload_and_read_stats(fake, slack, figures):
    # Someone asks something the bot cannot answer: it is stored, and only admins may read it back.
    slack.event(event_body(mention_event(f"<@{BOT_USER_ID}> {SECRET_QUESTION}", channel="CASK0001")))
    fake.wait_for(lambda: fake.calls_of("chat.postMessage", "CASK0001"), what="the answer")
    for i, user in enumerate(NOT_ADMINS):
        for j, sub in enumerate(("reload", "stats", "STATS", "Reload now", "stats --suggest")):
            name = f"deny-{i}-{j}"
            form = command_form(
                "/dockbot", sub, channel="CADM0001", user=user, response_url=fake.response_url(name)
            )
            assert slack.command(form).status_code == 200
            (reply,) = fake.wait_for(lambda name=name: fake.calls_of(f"response_url:{name}"), what=name)
            assert "관리자만" in reply.params["text"], (user, sub, reply.params["text"])
            assert SECRET_QUESTION not in reply.all_text and "dockbot 통계" not in reply.all_text
            figures.add("security_access", "non_admin_refusals")
    form = command_form(
        "/dockbot", "stats", channel="CADM0001", user=ADMIN, response_url=fake.response_url("ok")
    )
    slack.command(form)
    (stats,) = fake.wait_for(lambda: fake.calls_of("response_url:ok"), what="the admin's stats")
    assert "dockbot 통계" in stats.all_text and "쿼카프로젝트" in stats.all_text  # the admin does see it
    form = command_form(
        "/dockbot", "reload", channel="CADM0001", user=ADMIN, response_url=fake.response_url("rl")
    )
    slack.command(form)
    (reloaded,) = fake.wait_for(lambda: fake.calls_of("response_url:rl"), what="the admin's reload")
    assert "관리자만" not in reloaded.params["text"]


def test_app_home_shows_stats_to_admins_only(fake, slack, figures):
    slack.event(event_body(mention_event(f"<@{BOT_USER_ID}> {SECRET_QUESTION}", channel="CASK0002")))
    fake.wait_for(lambda: fake.calls_of("chat.postMessage", "CASK0002"), what="the answer")
    for user in [*NOT_ADMINS[:3], ADMIN]:
        before = len(fake.calls_of("views.publish"))
        event = {"type": "app_home_opened", "user": user or "UEMPTY01", "channel": "DHOME001", "tab": "home"}
        slack.event(event_body(event))
        fake.wait_for(
            lambda before=before: len(fake.calls_of("views.publish")) > before, what="views.publish"
        )
        view = fake.calls_of("views.publish")[-1]
        shows_texts = "쿼카프로젝트" in json.dumps(view.params.get("view"), ensure_ascii=False)
        assert shows_texts == (user == ADMIN), (user, shows_texts)
        figures.add("security_access", "home_views_checked")


def test_demos_outside_the_allowed_channels_are_refused(docker_client, fake, slack, bot, figures):
    assert bot.proc is not None
    for i, channel in enumerate(NOT_DEMO_CHANNELS):
        name = f"nodemo-{i}"
        form = command_form(
            "/demo", "volumes", channel=channel, user=f"UNODEMO{i}", response_url=fake.response_url(name)
        )
        slack.command(form)
        (reply,) = fake.wait_for(lambda name=name: fake.calls_of(f"response_url:{name}"), what=name)
        assert "실행할 수 없어요" in reply.params["text"], (channel, reply.params["text"])
        button = action_payload(
            "dockbot_run_demo",
            "volumes",
            channel=channel,
            user=f"UNODEMO{i}",
            response_url=fake.response_url(f"{name}-b"),
        )
        slack.action(button)
        (reply,) = fake.wait_for(
            lambda name=name: fake.calls_of(f"response_url:{name}-b"), what=f"{name} button"
        )
        assert "실행할 수 없어요" in reply.params["text"]
        figures.add("security_access", "demo_channel_refusals", 2)
    time.sleep(0.5)
    for channel in NOT_DEMO_CHANNELS:
        assert channel == "" or fake.calls_of("chat.postMessage", channel) == []
    assert owned_by(docker_client.api, bot.proc.pid) == []  # nothing was ever created on the engine
    # The allowed channel runs it (so the refusals above were about the channel, not a broken demo).
    slack.command(
        command_form(
            "/demo",
            "stateless",
            channel=DEMO_CHANNEL,
            user="UDEMO001",
            response_url=fake.response_url("demo-ok"),
        )
    )
    fake.wait_for(
        lambda: [c for c in fake.calls_of("chat.update", DEMO_CHANNEL) if "완료:" in c.params["text"]],
        timeout=90,
        what="the allowed demo to finish",
    )


# ---- secrets ----------------------------------------------------------------------------------------

BOT_TOKEN = "xoxb-7777-8888-Zq9RELIABILITYbotTOKENvalue"
SIGNING_SECRET = "f00dfacecafe7777RELIABILITYsigningSECRET"


def _fragments(secret: str) -> list[str]:
    """The secret and its distinctive tail, raw and as they would look JSON- or URL-encoded."""
    tail = secret.split("-")[-1]
    return [secret, tail, json.dumps(secret)[1:-1], secret.replace("-", "%2D")]


@pytest.mark.slow
def test_secrets_never_reach_logs_output_or_the_database(docker_client, tmp_path, figures):
    knowledge = tmp_path / "knowledge"
    shutil.copytree(REPO / "knowledge", knowledge)
    db = tmp_path / "dockbot.db"
    fake = FakeSlack().start()
    env = dockbot_env(
        fake,
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        DOCKBOT_LOG_LEVEL="DEBUG",
        DOCKBOT_ADMINS=ADMIN,
        DOCKBOT_DB=str(db),
        DOCKBOT_KNOWLEDGE_DIR=str(knowledge),
    )
    log_path = tmp_path / "serve.log"
    bot = DockbotProcess(env, log_path).start()
    slack = SlackSender(bot.base_url, secret=SIGNING_SECRET)
    try:
        slack.event(event_body(mention_event(f"<@{BOT_USER_ID}> 명명된 볼륨이 뭐야?", channel="CSEC0001")))
        slack.event(event_body(dm_event("컨테이너끼리 통신", channel="DSEC0001")))
        slack.command(
            command_form(
                "/docker",
                "이미지 지우기",
                channel="CSEC0001",
                user="USEC0001",
                response_url=fake.response_url("sec-docker"),
            )
        )
        for sub, user in (("stats", ADMIN), ("reload", ADMIN), ("stats", "USEC0001"), ("help", "USEC0001")):
            slack.command(
                command_form(
                    "/dockbot",
                    sub,
                    channel="CSEC0001",
                    user=user,
                    response_url=fake.response_url(f"sec-{sub}-{user}"),
                )
            )
        slack.action(
            action_payload(
                "dockbot_vote_up",
                "volume-named",
                channel="CSEC0001",
                user="USEC0001",
                response_url=fake.response_url("sec-vote"),
            )
        )
        fake.fail[("chat.postMessage", "CSECFAIL")] = "not_in_channel"
        slack.event(event_body(mention_event(f"<@{BOT_USER_ID}> 볼륨", channel="CSECFAIL")))
        fake.rate_limit["chat.postMessage"] = 1
        slack.event(event_body(mention_event(f"<@{BOT_USER_ID}> 네트워크", channel="CSEC0002")))
        raw = json.dumps(event_body(mention_event("forged", channel="CSEC0003")))
        assert slack.post_raw(raw, "application/json", sign(raw, secret="wrong")).status_code == 401
        old = sign(raw, secret=SIGNING_SECRET, timestamp=int(time.time()) - 600)
        assert slack.post_raw(raw, "application/json", old).status_code == 401
        slack.command(
            command_form(
                "/demo",
                "stateless",
                channel="CSEC0004",
                user="USEC0002",
                response_url=fake.response_url("sec-demo"),
            )
        )
        fake.wait_for(
            lambda: [c for c in fake.calls_of("chat.update", "CSEC0004") if "완료:" in c.params["text"]],
            timeout=90,
            what="the demo's final message",
        )
        (knowledge / "volumes.yaml").write_text("entries: [broken\n", encoding="utf-8")  # admin notice path
        fake.wait_for(lambda: fake.calls_of("chat.postMessage", ADMIN), timeout=30, what="the admin notice")
        fake.wait_for(lambda: fake.calls_of("chat.postMessage", "CSEC0002"), what="the rate-limited answer")
    finally:
        bot.stop()
        fake.stop()
    assert all(c.token == BOT_TOKEN for c in fake.calls if not c.method.startswith("response_url"))
    captured = log_path.read_bytes() + db.read_bytes()
    for wal in db.parent.glob("dockbot.db-*"):
        captured += wal.read_bytes()
    text = captured.decode("utf-8", "replace")
    # The session really logged verbosely, Web API requests included (where a token could have leaked).
    assert "DEBUG" in text and "Sending a request" in text and len(text) > 10_000
    for secret in (BOT_TOKEN, SIGNING_SECRET):
        for fragment in _fragments(secret):
            assert fragment not in text, (
                f"a secret fragment reached the logs or the database: {fragment[:8]}…"
            )
    figures.set("security_access", "secret_scan_bytes", len(captured))
    figures.add("security_access", "secret_fragments_checked", 8)
