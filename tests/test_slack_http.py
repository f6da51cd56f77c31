"""The real `dockbot serve` (HTTP mode, a subprocess) driven as Slack drives it: signed events, slash commands
and button actions to /slack/events, with the fake Slack Web API (SLACK_API_URL) recording every reply."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from slack_harness import (
    BOT_ID,
    BOT_TOKEN,
    BOT_USER_ID,
    KNOWLEDGE_DIR,
    REPO,
    SIGNING_SECRET,
    DockbotProcess,
    FakeSlack,
    InProcessServer,
    SlackSender,
    action_payload,
    command_form,
    dm_event,
    dockbot_env,
    event_body,
    mention_event,
    new_ts,
    sign,
)

from bot.brain import build_brain
from bot.config import Settings
from bot.store import Store

ADMIN = "UADMIN01"
DEMO_CHANNELS = ("CDEMO001", "CDEMO002")


@pytest.fixture(scope="module")
def db_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("slack-db") / "dockbot.db"


@pytest.fixture(scope="module")
def dockbot(fake: FakeSlack, db_path: Path, tmp_path_factory: pytest.TempPathFactory) -> DockbotProcess:
    env = dockbot_env(
        fake,
        DOCKBOT_DEMO_CHANNELS=",".join(DEMO_CHANNELS),
        DOCKBOT_ADMINS=ADMIN,
        DOCKBOT_DB=str(db_path),
        # DEBUG: routine "not answered" lines are DEBUG; the secrets check covers the most verbose level.
        DOCKBOT_LOG_LEVEL="DEBUG",
    )
    proc = DockbotProcess(env, tmp_path_factory.mktemp("slack-log") / "dockbot.log").start()
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def slack(dockbot: DockbotProcess) -> SlackSender:
    return SlackSender(dockbot.base_url)


def _blocks_ok(call) -> None:
    """Every message we send respects Block Kit limits and carries a fallback text."""
    blocks = call.params.get("blocks") or []
    assert call.params.get("text"), "a plain-text fallback is always sent"
    assert len(blocks) <= 50
    assert len(json.dumps(blocks, ensure_ascii=False)) <= 13_000
    for block in blocks:
        if block.get("type") == "section" and "text" in block:
            assert 0 < len(block["text"]["text"]) <= 3000


def _action_ids(call) -> list[str]:
    return [e.get("action_id") for b in call.params.get("blocks") or [] for e in b.get("elements", [])] + [
        b["accessory"]["action_id"] for b in call.params.get("blocks") or [] if "accessory" in b
    ]


# ---- questions ---------------------------------------------------------------------------------------


def test_mention_is_answered_in_the_thread_of_the_question(fake: FakeSlack, slack: SlackSender) -> None:
    event = mention_event(f"<@{BOT_USER_ID}> 명명된 볼륨이 뭐야?", channel="CMENTION1")
    assert slack.event(event_body(event)).status_code == 200
    (post,) = fake.wait_for(lambda: fake.calls_of("chat.postMessage", "CMENTION1"), what="the answer")
    assert post.params["thread_ts"] == event["ts"]
    assert "명명된 볼륨" in post.all_text
    assert {"dockbot_vote_up", "dockbot_vote_down"} <= set(_action_ids(post))
    assert any("```" in b["text"]["text"] for b in post.params["blocks"] if b["type"] == "section")
    _blocks_ok(post)


def test_mention_inside_a_thread_answers_in_that_thread(fake: FakeSlack, slack: SlackSender) -> None:
    parent = new_ts()
    event = mention_event(f"<@{BOT_USER_ID}> 컨테이너끼리 이름으로 통신하려면?", channel="CMENTION2")
    event["thread_ts"] = parent
    slack.event(event_body(event))
    (post,) = fake.wait_for(lambda: fake.calls_of("chat.postMessage", "CMENTION2"), what="the answer")
    assert post.params["thread_ts"] == parent


def test_direct_message_is_answered_in_the_dm(fake: FakeSlack, slack: SlackSender) -> None:
    slack.event(event_body(dm_event("컨테이너 지웠더니 DB 데이터가 날아갔어요", channel="DASKER01")))
    (post,) = fake.wait_for(lambda: fake.calls_of("chat.postMessage", "DASKER01"), what="the DM answer")
    assert not post.params.get("thread_ts")
    _blocks_ok(post)


def not_answered(dockbot: DockbotProcess, event_id: str) -> bool:
    """The bot logged its decision not to answer this event (handlers/ask.py): it is over, nothing follows."""
    return f"event {event_id} not answered:" in dockbot.log_text()


def test_bots_own_messages_edits_and_other_bots_are_ignored(
    fake: FakeSlack, slack: SlackSender, dockbot: DockbotProcess
) -> None:
    ignored = [
        dm_event("볼륨이 뭐야?", channel="DIGNORE1", user=BOT_USER_ID),
        dm_event("볼륨이 뭐야?", channel="DIGNORE2", user="UOTHERBOT", bot_id="BOTHER01"),
        dm_event("볼륨이 뭐야?", channel="DIGNORE3", subtype="message_changed"),
        dm_event("볼륨이 뭐야?", channel="DIGNORE4", subtype="bot_message", bot_id=BOT_ID),
        {**dm_event("볼륨이 뭐야?", channel="CIGNORE5"), "channel_type": "channel"},
    ]
    bodies = [event_body(event) for event in ignored]
    for body in bodies:
        assert slack.event(body).status_code == 200
    # The bot's own two were dropped by Bolt's self-event middleware before their 200 came back; the other
    # three reached the listener, which logs its decision.
    reached = [bodies[1], bodies[2], bodies[4]]
    fake.wait_for(lambda: all(not_answered(dockbot, b["event_id"]) for b in reached), what="the decisions")
    for channel in ("DIGNORE1", "DIGNORE2", "DIGNORE3", "DIGNORE4", "CIGNORE5"):
        assert fake.calls_in(channel) == [], channel
    slack.event(event_body(dm_event("볼륨이 뭐야?", channel="DCONTROL")))  # from a person: answered
    fake.wait_for(lambda: fake.calls_of("chat.postMessage", "DCONTROL"), what="the control answer")


def test_slack_retries_are_answered_once(
    fake: FakeSlack, slack: SlackSender, dockbot: DockbotProcess
) -> None:
    body = event_body(mention_event(f"<@{BOT_USER_ID}> 볼륨 어떻게 지워?", channel="CRETRY01"))
    statuses = [slack.event(body).status_code]
    statuses += [slack.event(body, retry_num=n).status_code for n in (1, 2, 3)]
    assert statuses == [200, 200, 200, 200]
    # The same message under another event id (e.g. app_mention and message.im) is answered once too.
    again = event_body(dict(body["event"]))
    assert again["event_id"] != body["event_id"]
    slack.event(again)
    fake.wait_for(lambda: fake.calls_of("chat.postMessage", "CRETRY01"), what="the answer")
    # The retries were turned away before their 200 (logged). Of the two event ids of one message, the
    # listener that ran second logged that it did not answer.
    assert dockbot.log_text().count(f"duplicate delivery of {body['event_id']} ignored") == 3
    fake.wait_for(
        lambda: any(not_answered(dockbot, b["event_id"]) for b in (body, again)), what="the second decision"
    )
    assert len(fake.calls_of("chat.postMessage", "CRETRY01")) == 1


def test_pings_in_a_question_are_never_echoed(fake: FakeSlack, slack: SlackSender) -> None:
    # "<b>점심</b>" typed by a user arrives entity-encoded; <!channel> and <@U…> arrive as markup.
    text = (
        f"<@{BOT_USER_ID}> <!channel> <!here> <@UVICTIM1> &lt;b&gt;점심&lt;/b&gt; 메뉴 추천해줘 "
        "<!subteam^S123|@devs>"
    )
    slack.event(event_body(mention_event(text, channel="CPING001")))
    (post,) = fake.wait_for(lambda: fake.calls_of("chat.postMessage", "CPING001"), what="the reply")
    shown = post.all_text
    for ping in ("<!channel>", "<!here>", "<@UVICTIM1>", "<!subteam", "<b>"):
        assert ping not in shown
    assert "&lt;b&gt;" in shown  # the question is echoed escaped (no-answer reply quotes it)


def test_markup_only_and_empty_mentions_get_a_korean_hint(fake: FakeSlack, slack: SlackSender) -> None:
    slack.event(event_body(mention_event(f"<@{BOT_USER_ID}> <!channel>", channel="CMARKUP1")))
    slack.event(event_body(mention_event(f"<@{BOT_USER_ID}>   ", channel="CEMPTY01")))
    (markup,) = fake.wait_for(lambda: fake.calls_of("chat.postMessage", "CMARKUP1"), what="markup reply")
    (empty,) = fake.wait_for(lambda: fake.calls_of("chat.postMessage", "CEMPTY01"), what="empty reply")
    assert "질문이 없어요" in markup.all_text and "<!channel>" not in markup.all_text
    assert "질문을 적어 주세요" in empty.all_text


@pytest.mark.parametrize(
    ("channel", "text"),
    [
        ("CHUGE001", "볼륨 " * 50_000),  # 100,000 characters
        ("CCTRL001", "\x00\x01\x1b[31m\u200b\u200d\ufeff"),
        ("CEMOJI01", "🐳🐳🐳 ❓❓"),
    ],
)
def test_bad_input_gets_a_clear_reply(fake: FakeSlack, slack: SlackSender, channel: str, text: str) -> None:
    slack.event(event_body(mention_event(f"<@{BOT_USER_ID}> {text}", channel=channel)))
    (post,) = fake.wait_for(lambda: fake.calls_of("chat.postMessage", channel), what="a reply")
    _blocks_ok(post)
    assert any("\uac00" <= ch <= "\ud7a3" for ch in post.params["text"]), "the reply is Korean"
    assert "\x00" not in post.all_text and "Traceback" not in post.all_text


def test_web_api_429_is_retried_after_retry_after(fake: FakeSlack, slack: SlackSender) -> None:
    fake.rate_limit["chat.postMessage"] = 1
    slack.event(event_body(mention_event(f"<@{BOT_USER_ID}> 도커 네트워크 종류", channel="CRATE001")))
    calls = fake.wait_for(
        lambda: (
            fake.calls_of("chat.postMessage", "CRATE001")[1:]
            and fake.calls_of("chat.postMessage", "CRATE001")
        ),
        what="the retried post",
    )
    assert len(calls) == 2 and calls[1].at - calls[0].at >= 0.9


def test_other_web_api_errors_get_an_apology_not_silence(fake: FakeSlack, slack: SlackSender) -> None:
    fake.fail[("chat.postMessage", "CBROKEN1")] = "internal_error"
    slack.event(
        event_body(mention_event(f"<@{BOT_USER_ID}> 볼륨이 뭐야", channel="CBROKEN1", user="USAD0001"))
    )
    (apology,) = fake.wait_for(lambda: fake.calls_of("chat.postEphemeral", "CBROKEN1"), what="the apology")
    assert apology.params["user"] == "USAD0001" and "죄송해요" in apology.params["text"]


# ---- /docker and buttons -------------------------------------------------------------------------------


def test_docker_command_answers_ephemerally_with_a_share_button(fake: FakeSlack, slack: SlackSender) -> None:
    url = fake.response_url("docker-1")
    response = slack.command(
        command_form("/docker", "명명된 볼륨이 뭐야?", channel="CSHARE01", user="USHARER1", response_url=url)
    )
    assert response.status_code == 200
    (reply,) = fake.wait_for(lambda: fake.calls_of("response_url:docker-1"), what="the ephemeral answer")
    assert reply.params["response_type"] == "ephemeral"
    assert "dockbot_share" in _action_ids(reply)
    share = next(
        e
        for b in reply.params["blocks"]
        for e in b.get("elements", [])
        if e.get("action_id") == "dockbot_share"
    )

    url2 = fake.response_url("share-1")
    payload = action_payload(
        "dockbot_share",
        share["value"],
        channel="CSHARE01",
        user="USHARER1",
        response_url=url2,
        ephemeral=True,
    )
    assert slack.action(payload).status_code == 200
    (shared,) = fake.wait_for(lambda: fake.calls_of("chat.postMessage", "CSHARE01"), what="the shared answer")
    assert "<@USHARER1>" in shared.all_text and "dockbot_share" not in _action_ids(shared)
    (done,) = fake.wait_for(
        lambda: fake.calls_of("response_url:share-1"), what="the private copy marked shared"
    )
    assert done.params["replace_original"] is True


def test_share_where_the_bot_is_not_a_member_falls_back_to_the_response_url(
    fake: FakeSlack, slack: SlackSender
) -> None:
    fake.fail[("chat.postMessage", "CNOTIN01")] = "not_in_channel"
    url = fake.response_url("share-notin")
    slack.action(
        action_payload(
            "dockbot_share",
            "volume-named",
            channel="CNOTIN01",
            user="USHARER2",
            response_url=url,
            ephemeral=True,
        )
    )
    (reply,) = fake.wait_for(lambda: fake.calls_of("response_url:share-notin"), what="the fallback")
    assert reply.params["response_type"] == "in_channel"


def test_empty_docker_command_explains_usage(fake: FakeSlack, slack: SlackSender) -> None:
    url = fake.response_url("docker-empty")
    slack.command(command_form("/docker", "  ", channel="CSHARE02", user="U0000002", response_url=url))
    (reply,) = fake.wait_for(lambda: fake.calls_of("response_url:docker-empty"), what="usage")
    assert "/docker" in reply.params["text"]


def test_suggestion_button_posts_the_chosen_answer_in_the_thread(fake: FakeSlack, slack: SlackSender) -> None:
    thread = new_ts()
    payload = action_payload(
        "dockbot_pick_1",
        "network-driver-bridge",
        channel="CPICK001",
        user="UPICKER1",
        response_url=fake.response_url("pick-1"),
        thread_ts=thread,
    )
    slack.action(payload)
    (post,) = fake.wait_for(lambda: fake.calls_of("chat.postMessage", "CPICK001"), what="the chosen answer")
    assert post.params["thread_ts"] == thread
    _blocks_ok(post)


def test_suggestion_button_on_a_private_answer_replaces_it_privately(
    fake: FakeSlack, slack: SlackSender
) -> None:
    url = fake.response_url("pick-private")
    slack.action(
        action_payload(
            "dockbot_pick_0",
            "volume-named",
            channel="CPICK002",
            user="UPICKER2",
            response_url=url,
            ephemeral=True,
        )
    )
    (reply,) = fake.wait_for(lambda: fake.calls_of("response_url:pick-private"), what="the private answer")
    assert reply.params["replace_original"] is True and reply.params["response_type"] == "ephemeral"
    assert fake.calls_of("chat.postMessage", "CPICK002") == []


def test_feedback_buttons_record_one_vote_per_user(
    fake: FakeSlack, slack: SlackSender, db_path: Path
) -> None:
    message_ts = new_ts()
    for action_id, name in (("dockbot_vote_down", "vote-1"), ("dockbot_vote_up", "vote-2")):
        slack.action(
            action_payload(
                action_id,
                "volume-named",
                channel="CVOTE001",
                user="UVOTER01",
                response_url=fake.response_url(name),
                message_ts=message_ts,
            )
        )
        fake.wait_for(lambda name=name: fake.calls_of(f"response_url:{name}"), what="thanks")
    assert "고마워요" in fake.calls_of("response_url:vote-2")[0].params["text"]
    store = Store.open(db_path)
    try:
        # The second press on the same answer replaced the first: one 👍, no 👎.
        assert store.vote_of(user="UVOTER01", entry_id="volume-named", message=f"CVOTE001:{message_ts}") == 1
    finally:
        store.close()


# ---- /dockbot ----------------------------------------------------------------------------------------


def test_dockbot_help_in_korean(fake: FakeSlack, slack: SlackSender) -> None:
    slack.command(
        command_form(
            "/dockbot", "help", channel="CHELP001", user="UHELP001", response_url=fake.response_url("help")
        )
    )
    (reply,) = fake.wait_for(lambda: fake.calls_of("response_url:help"), what="help")
    assert "/demo" in reply.all_text and "/docker" in reply.all_text and "사용법" in reply.all_text


def test_reload_and_stats_are_for_admins_only(fake: FakeSlack, slack: SlackSender) -> None:
    for sub in ("reload", "stats"):
        slack.command(
            command_form(
                "/dockbot",
                sub,
                channel="CADMIN01",
                user="UNOTADM1",
                response_url=fake.response_url(f"no-{sub}"),
            )
        )
        (reply,) = fake.wait_for(lambda sub=sub: fake.calls_of(f"response_url:no-{sub}"), what="polite no")
        assert "관리자만" in reply.params["text"]
    slack.command(
        command_form(
            "/dockbot", "reload", channel="CADMIN01", user=ADMIN, response_url=fake.response_url("reload")
        )
    )
    (reloaded,) = fake.wait_for(lambda: fake.calls_of("response_url:reload"), what="reload report")
    assert "버전" in reloaded.params["text"]
    slack.command(
        command_form(
            "/dockbot", "stats", channel="CADMIN01", user=ADMIN, response_url=fake.response_url("stats")
        )
    )
    (stats,) = fake.wait_for(lambda: fake.calls_of("response_url:stats"), what="stats")
    _blocks_ok(stats)


# ---- /demo (no engine needed) -------------------------------------------------------------------------


def test_demo_list_is_shown_only_to_the_asker(fake: FakeSlack, slack: SlackSender) -> None:
    for text, name in (("", "demo-bare"), ("list", "demo-list")):
        slack.command(
            command_form(
                "/demo", text, channel=DEMO_CHANNELS[0], user="ULIST001", response_url=fake.response_url(name)
            )
        )
        (reply,) = fake.wait_for(
            lambda name=name: fake.calls_of(f"response_url:{name}"), what="the demo list"
        )
        assert reply.params["response_type"] == "ephemeral" and "`volumes`" in reply.all_text


def test_unknown_demo_shows_the_list_and_runs_nothing(fake: FakeSlack, slack: SlackSender) -> None:
    slack.command(
        command_form(
            "/demo",
            "volumes; rm -rf / <!channel>",
            channel=DEMO_CHANNELS[0],
            user="UUNKNOWN",
            response_url=fake.response_url("demo-unknown"),
        )
    )
    (reply,) = fake.wait_for(lambda: fake.calls_of("response_url:demo-unknown"), what="the list")
    assert "없어요" in reply.all_text and "`volumes`" in reply.all_text and "<!channel>" not in reply.all_text
    assert not [c for c in fake.calls_of("chat.postMessage", DEMO_CHANNELS[0]) if "UUNKNOWN" in c.all_text]


def test_demo_in_a_disallowed_channel_is_refused(fake: FakeSlack, slack: SlackSender) -> None:
    slack.command(
        command_form(
            "/demo",
            "volumes",
            channel="CNODEMO1",
            user="UNODEMO1",
            response_url=fake.response_url("demo-nope"),
        )
    )
    (reply,) = fake.wait_for(lambda: fake.calls_of("response_url:demo-nope"), what="the refusal")
    assert "실행할 수 없어요" in reply.params["text"] and f"<#{DEMO_CHANNELS[0]}>" in reply.all_text
    # The "데모 실행" button on an answer follows the same rule.
    slack.action(
        action_payload(
            "dockbot_run_demo",
            "volumes",
            channel="CNODEMO1",
            user="UNODEMO1",
            response_url=fake.response_url("demo-nope-button"),
        )
    )
    fake.wait_for(lambda: fake.calls_of("response_url:demo-nope-button"), what="the button refusal")
    # The refusal is the handler's last act (handlers/demo.py start_demo returns after telling the user).
    assert fake.calls_of("chat.postMessage", "CNODEMO1") == []


# ---- signatures and health ---------------------------------------------------------------------------


def test_unsigned_badly_signed_and_stale_requests_are_rejected(
    dockbot: DockbotProcess, slack: SlackSender
) -> None:
    raw = json.dumps(event_body(mention_event(f"<@{BOT_USER_ID}> 볼륨", channel="CUNSIGN1")))
    assert slack.post_raw(raw, "application/json").status_code == 401
    assert slack.post_raw(raw, "application/json", sign(raw, secret="wrong-secret")).status_code == 401
    stale = sign(raw, timestamp=int(time.time()) - 10 * 60)
    assert slack.post_raw(raw, "application/json", stale).status_code == 401


def test_healthz(dockbot: DockbotProcess) -> None:
    response = requests.get(dockbot.base_url + "/healthz", timeout=5)
    assert response.status_code == 200 and response.json()["ok"] is True
    assert response.json()["entries"] > 40


def test_secrets_never_reach_the_log(dockbot: DockbotProcess, slack: SlackSender, fake: FakeSlack) -> None:
    slack.event(event_body(mention_event(f"<@{BOT_USER_ID}> 볼륨", channel="CLOG0001")))
    fake.wait_for(lambda: fake.calls_of("chat.postMessage", "CLOG0001"), what="an answer")
    log = dockbot.log_text()
    assert BOT_TOKEN not in log and SIGNING_SECRET not in log
    assert all(c.token == BOT_TOKEN for c in fake.calls if not c.method.startswith("response_url"))


# ---- start-up errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "variable"),
    [
        ({"SLACK_BOT_TOKEN": "not-a-token"}, "SLACK_BOT_TOKEN"),
        ({"SLACK_SIGNING_SECRET": ""}, "SLACK_SIGNING_SECRET"),
        ({"SLACK_APP_TOKEN": "xoxb-wrong-kind"}, "SLACK_APP_TOKEN"),
        ({"SLACK_BOT_TOKEN": "xoxb-invalid-revoked"}, "SLACK_BOT_TOKEN"),
        ({"PORT": "eighty"}, "PORT"),
        ({"DOCKBOT_HTTP_THREADS": "many"}, "DOCKBOT_HTTP_THREADS"),
        ({"DOCKBOT_HTTP_MAX_CONNECTIONS": "0"}, "DOCKBOT_HTTP_MAX_CONNECTIONS"),
    ],
)
def test_missing_or_malformed_tokens_exit_with_one_clear_line(
    fake: FakeSlack, overrides: dict[str, str], variable: str
) -> None:
    env = dockbot_env(fake, **overrides)
    done = subprocess.run(
        [sys.executable, "-m", "bot", "serve"], cwd=REPO, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode != 0
    lines = [line for line in done.stderr.splitlines() if line.startswith("dockbot:")]
    assert len(lines) == 1 and variable in lines[0], done.stderr
    assert "Traceback" not in done.stderr


def test_app_home_is_published_when_opened(fake: FakeSlack, slack: SlackSender) -> None:
    event = {
        "type": "app_home_opened",
        "user": "UHOME001",
        "channel": "DHOME001",
        "tab": "home",
        "event_ts": new_ts(),
    }
    assert slack.event(event_body(event)).status_code == 200
    (publish,) = fake.wait_for(
        lambda: [c for c in fake.calls_of("views.publish") if c.params.get("user_id") == "UHOME001"],
        what="views.publish",
    )
    assert publish.params["view"]["type"] == "home"


def test_a_failing_listener_is_logged_and_the_user_gets_an_apology(fake: FakeSlack) -> None:
    """The real app in-process with a Brain whose matcher blows up: the error handler apologizes."""
    settings = Settings(
        knowledge_dir=KNOWLEDGE_DIR,
        slack_bot_token=BOT_TOKEN,
        slack_signing_secret=SIGNING_SECRET,
        slack_api_url=fake.api_url,
    )
    brain = build_brain(settings, with_demos=False, with_store=False)

    def broken_ask(*args: object, **kwargs: object) -> None:
        raise RuntimeError("matcher exploded")

    brain.ask = broken_ask  # type: ignore[method-assign]
    server = InProcessServer(settings, brain).start()
    try:
        sender = SlackSender(server.base_url)
        sender.event(event_body(mention_event(f"<@{BOT_USER_ID}> 볼륨", channel="CCRASH01", user="UCRASH01")))
        (apology,) = fake.wait_for(
            lambda: fake.calls_of("chat.postEphemeral", "CCRASH01"), what="the apology"
        )
        assert apology.params["user"] == "UCRASH01" and "죄송해요" in apology.params["text"]
        url = fake.response_url("crash-command")
        sender.command(command_form("/docker", "볼륨", channel="CCRASH02", user="UCRASH02", response_url=url))
        (reply,) = fake.wait_for(
            lambda: fake.calls_of("response_url:crash-command"), what="the command apology"
        )
        assert "죄송해요" in reply.params["text"]
    finally:
        server.stop()


def test_help_in_a_dm_or_after_docker_shows_the_korean_help(fake: FakeSlack, slack: SlackSender) -> None:
    slack.event(event_body(dm_event("도움말", channel="DHELP001")))
    (post,) = fake.wait_for(lambda: fake.calls_of("chat.postMessage", "DHELP001"), what="the help")
    assert "사용법" in post.all_text and "/demo" in post.all_text
    slack.command(
        command_form(
            "/docker", "help", channel="CHELP002", user="UHELP002", response_url=fake.response_url("dh")
        )
    )
    (reply,) = fake.wait_for(lambda: fake.calls_of("response_url:dh"), what="the help")
    assert "사용법" in reply.all_text
