"""Learning from use in Slack, end to end on the real `dockbot serve` (HTTP) with signed requests and the fake
Web API: an answer gets a 👎, the asker picks another entry, the question waits as a suggested example; an
admin approves it with `/dockbot review` (a non-admin cannot), it lands in the entry's YAML, the bot reloads
and answers the question with that entry. A rejected one changes nothing."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from slack_harness import (
    BOT_USER_ID,
    KNOWLEDGE_DIR,
    DockbotProcess,
    FakeSlack,
    SlackSender,
    action_payload,
    command_form,
    dockbot_env,
    event_body,
    mention_event,
)

ADMIN = "UADMIN01"
ASKER = "UASKER01"
QUESTION = "명명된 볼륨 쓰면 뭐가 좋아요 진짜로"


@pytest.fixture(scope="module")
def knowledge_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("review-kb") / "knowledge"
    shutil.copytree(KNOWLEDGE_DIR, target)
    return target


@pytest.fixture(scope="module")
def dockbot(fake: FakeSlack, knowledge_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> DockbotProcess:
    env = dockbot_env(
        fake,
        DOCKBOT_DB=str(tmp_path_factory.mktemp("review-db") / "dockbot.db"),
        DOCKBOT_ADMINS=ADMIN,
        DOCKBOT_KNOWLEDGE_DIR=str(knowledge_dir),
        XDG_CACHE_HOME=str(tmp_path_factory.mktemp("review-cache")),
    )
    proc = DockbotProcess(env, tmp_path_factory.mktemp("review-log") / "dockbot.log").start()
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def slack(dockbot: DockbotProcess) -> SlackSender:
    return SlackSender(dockbot.base_url)


def buttons(params: dict) -> list[tuple[str, str]]:
    return [
        (e["action_id"], e.get("value", ""))
        for b in params.get("blocks") or []
        if b.get("type") == "actions"
        for e in b["elements"]
    ]


def review(fake: FakeSlack, slack: SlackSender, user: str, name: str) -> dict:
    form = command_form(
        "/dockbot", "review", channel="CREV0001", user=user, response_url=fake.response_url(name)
    )
    assert slack.command(form).status_code == 200
    (shown,) = fake.wait_for(lambda: fake.calls_of(f"response_url:{name}"), what="the review list")
    return shown.params


def test_a_downvoted_answer_then_a_pick_is_approved_into_the_yaml(
    fake: FakeSlack, slack: SlackSender, knowledge_dir: Path, dockbot: DockbotProcess
) -> None:
    question = mention_event(f"<@{BOT_USER_ID}> {QUESTION}", channel="CREV0001", user=ASKER)
    slack.event(event_body(question))
    (answer,) = fake.wait_for(lambda: fake.calls_of("chat.postMessage", "CREV0001"), what="the answer")
    first = dict(buttons(answer.params))["dockbot_vote_down"]  # the entry answered
    target = "volume-cleanup" if first != "volume-cleanup" else "volume-named-vs-anonymous"
    root, at = question["ts"], answer.result["ts"]

    def press(action_id: str, value: str, name: str) -> None:
        payload = action_payload(
            action_id,
            value,
            channel="CREV0001",
            user=ASKER,
            response_url=fake.response_url(name),
            message_ts=at,
            thread_ts=root,
        )
        assert slack.action(payload).status_code == 200

    press("dockbot_vote_down", first, "down")
    fake.wait_for(lambda: fake.calls_of("response_url:down"), what="the thanks for the vote")
    press("dockbot_pick_0", target, "pick")
    fake.wait_for(lambda: len(fake.calls_of("chat.postMessage", "CREV0001")) >= 2, what="the picked answer")

    # A non-admin sees no queue; the admin sees the question with approve/reject buttons.
    refused = review(fake, slack, ASKER, "review-asker")
    assert "관리자만" in refused["text"] and not buttons(refused)
    listed = review(fake, slack, ADMIN, "review-admin")
    assert QUESTION in json.dumps(listed, ensure_ascii=False) and target in json.dumps(
        listed, ensure_ascii=False
    )
    (approve,) = [value for action_id, value in buttons(listed) if action_id == "dockbot_example_approve"]
    path = knowledge_dir / "volumes.yaml"
    before = path.read_text(encoding="utf-8")
    assert QUESTION not in before  # nothing is learned unapproved

    payload = action_payload(
        "dockbot_example_approve",
        approve,
        channel="CREV0001",
        user=ADMIN,
        response_url=fake.response_url("approve"),
        ephemeral=True,
    )
    slack.action(payload)
    (done,) = fake.wait_for(lambda: fake.calls_of("response_url:approve"), timeout=60, what="the approval")
    assert "✅" in json.dumps(done.params, ensure_ascii=False)
    after = path.read_text(encoding="utf-8")
    assert after.replace(f"      - {QUESTION}\n", "", 1) == before  # one line added, the rest untouched

    # The running bot reloads: then the question is answered by the approved entry.
    fake.wait_for(lambda: "knowledge reloaded" in dockbot.log_text(), timeout=120, what="the reload")
    again = mention_event(f"<@{BOT_USER_ID}> {QUESTION}", channel="CREV0002")
    slack.event(event_body(again))
    (reply,) = fake.wait_for(lambda: fake.calls_of("chat.postMessage", "CREV0002"), what="the new answer")
    assert dict(buttons(reply.params))["dockbot_vote_down"] == target


def test_an_admin_cannot_approve_twice_and_a_forged_press_is_refused(
    fake: FakeSlack, slack: SlackSender
) -> None:
    forged = action_payload(
        "dockbot_example_approve",
        "1",
        channel="CREV0001",
        user=ASKER,
        response_url=fake.response_url("forged"),
        ephemeral=True,
    )
    slack.action(forged)
    (refused,) = fake.wait_for(lambda: fake.calls_of("response_url:forged"), what="the refusal")
    assert "관리자" in json.dumps(refused.params, ensure_ascii=False)
    twice = action_payload(
        "dockbot_example_approve",
        "1",
        channel="CREV0001",
        user=ADMIN,
        response_url=fake.response_url("twice"),
        ephemeral=True,
    )
    slack.action(twice)
    (notice,) = fake.wait_for(lambda: fake.calls_of("response_url:twice"), what="the notice")
    assert "⚠️" in json.dumps(notice.params, ensure_ascii=False)
