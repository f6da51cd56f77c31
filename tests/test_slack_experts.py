"""Ask a human, end to end on the real `dockbot serve` (HTTP) with signed requests and the fake Web API: the
"사람에게 물어보기" button, the question in the experts' channel with a link back, the pointer in the asker's
thread on the first expert reply (once), and an admin's one-click draft under knowledge/drafts/."""

from __future__ import annotations

import io
import json
import re
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
    dockbot_env,
    event_body,
    mention_event,
    new_ts,
)

from bot.commands.validate import run_validate
from bot.knowledge import load_knowledge

EXPERTS = "CEXPERTS1"
ADMIN = "UADMIN01"
ASKER = "UASKER01"
EXPERT = "UEXPERT1"
QUESTION = "helm 차트 values 파일을 환경별로 나누려면?"


@pytest.fixture(scope="module")
def knowledge_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("experts-kb") / "knowledge"
    shutil.copytree(KNOWLEDGE_DIR, target)
    volumes = target / "volumes.yaml"  # checked this month: its answers say so
    text = volumes.read_text(encoding="utf-8")
    stamped = "  - id: volume-named\n    owner: UEXPERT1\n    verified: 2026-12-01\n"
    # The starter entry's own owner/verified lines give way to the expert's.
    text = re.sub(
        r"  - id: volume-named\n(    owner: .*\n)?(    verified: .*\n)?", lambda _: stamped, text, count=1
    )
    volumes.write_text(text, encoding="utf-8")
    return target


@pytest.fixture(scope="module")
def dockbot(fake: FakeSlack, knowledge_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> DockbotProcess:
    env = dockbot_env(
        fake,
        DOCKBOT_DB=str(tmp_path_factory.mktemp("experts-db") / "dockbot.db"),
        DOCKBOT_EXPERTS_CHANNEL=EXPERTS,
        DOCKBOT_ADMINS=ADMIN,
        DOCKBOT_KNOWLEDGE_DIR=str(knowledge_dir),
    )
    proc = DockbotProcess(env, tmp_path_factory.mktemp("experts-log") / "dockbot.log").start()
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def slack(dockbot: DockbotProcess) -> SlackSender:
    return SlackSender(dockbot.base_url)


def buttons(call) -> dict[str, str]:
    return {
        e["action_id"]: e.get("value", "")
        for b in call.params.get("blocks") or []
        if b.get("type") == "actions"
        for e in b["elements"]
    }


def posts(fake: FakeSlack, channel: str, count: int, what: str) -> list:
    return fake.wait_for(
        lambda: (found := fake.calls_of("chat.postMessage", channel)) and len(found) >= count and found,
        what=what,
    )


def expert_reply(text: str, *, thread_ts: str, user: str = EXPERT) -> dict:
    ts = new_ts()
    return {
        "type": "message",
        "channel_type": "channel",
        "channel": EXPERTS,
        "user": user,
        "text": text,
        "ts": ts,
        "thread_ts": thread_ts,
        "event_ts": ts,
    }


def test_answered_questions_offer_no_human(fake: FakeSlack, slack: SlackSender) -> None:
    slack.event(event_body(mention_event(f"<@{BOT_USER_ID}> 명명된 볼륨이 뭐야?", channel="CASK0002")))
    (answer,) = posts(fake, "CASK0002", 1, "the answer")
    assert "dockbot_ask_human" not in buttons(answer)
    assert "마지막 확인: 2026-12" in answer.all_text  # the entry's verified: date, shown with the answer


def test_ask_a_human_round_trip_and_a_draft(fake: FakeSlack, slack: SlackSender, knowledge_dir: Path) -> None:
    question = mention_event(f"<@{BOT_USER_ID}> {QUESTION}", channel="CASK0001", user=ASKER)
    slack.event(event_body(question))
    (answer,) = posts(fake, "CASK0001", 1, "the no-answer reply")
    assert buttons(answer)["dockbot_ask_human"] == QUESTION
    root = question["ts"]

    # The asker presses "사람에게 물어보기" on the bot's reply in the thread.
    press = action_payload(
        "dockbot_ask_human",
        QUESTION,
        channel="CASK0001",
        user=ASKER,
        response_url=fake.response_url("ask-human"),
        message_ts=answer.result["ts"],
        thread_ts=root,
    )
    assert slack.action(press).status_code == 200
    (asked,) = posts(fake, EXPERTS, 1, "the question in the experts' channel")
    assert QUESTION in asked.params["text"] and f"<@{ASKER}>" in asked.params["text"]
    assert "https://dockbot-test.slack.com/archives/CASK0001/p" in asked.params["text"]  # the link back
    confirm = posts(fake, "CASK0001", 2, "the confirmation in the asker's thread")[1]
    assert confirm.params["thread_ts"] == root and f"<#{EXPERTS}>" in confirm.params["text"]

    # An expert answers in the experts' thread: the asker's thread gets a pointer, once.
    expert_ts = asked.result["ts"]
    reply = "values-dev.yaml, values-prod.yaml 로 나누고 `helm install -f values-prod.yaml` 로 골라요."
    slack.event(event_body(expert_reply(reply, thread_ts=expert_ts)))
    pointer = posts(fake, "CASK0001", 3, "the pointer to the expert's answer")[2]
    assert pointer.params["thread_ts"] == root
    assert f"<@{ASKER}>" in pointer.params["text"] and f"<@{EXPERT}>" in pointer.params["text"]
    assert f"https://dockbot-test.slack.com/archives/{EXPERTS}/p" in pointer.params["text"]
    assert "helm install -f" in pointer.params["text"]
    thanks = posts(fake, EXPERTS, 2, "the draft button in the experts' thread")[1]
    assert thanks.params["thread_ts"] == expert_ts
    request_id = buttons(thanks)["dockbot_make_draft"]

    slack.event(
        event_body(expert_reply("staging 도 values-staging.yaml 로 같은 방식이에요.", thread_ts=expert_ts))
    )
    # A later mention in another channel, answered after the second reply was handled.
    slack.event(event_body(mention_event(f"<@{BOT_USER_ID}> 명명된 볼륨이 뭐야?", channel="CASK0003")))
    posts(fake, "CASK0003", 1, "a later answer")
    assert len(fake.calls_of("chat.postMessage", "CASK0001")) == 3  # one pointer, not one per reply

    # Only an admin can turn the thread into a draft.
    def draft_press(user: str, name: str) -> dict:
        return action_payload(
            "dockbot_make_draft",
            request_id,
            channel=EXPERTS,
            user=user,
            response_url=fake.response_url(name),
            message_ts=thanks.result["ts"],
            thread_ts=expert_ts,
        )

    slack.action(draft_press(EXPERT, "draft-expert"))
    (refused,) = fake.wait_for(lambda: fake.calls_of("response_url:draft-expert"), what="the refusal")
    assert "관리자" in json.dumps(refused.params, ensure_ascii=False)
    assert not (knowledge_dir / "drafts").exists()
    slack.action(draft_press(ADMIN, "draft-admin"))
    (done,) = fake.wait_for(lambda: fake.calls_of("response_url:draft-admin"), what="the draft notice")
    (draft,) = (knowledge_dir / "drafts").glob("draft-*.yaml")
    assert draft.name in json.dumps(done.params, ensure_ascii=False)
    text = draft.read_text(encoding="utf-8")
    assert QUESTION in text and "helm install -f values-prod.yaml" in text and "values-staging" in text
    assert f"owner: {EXPERT}" in text and "<@" not in text.split("entries:", 1)[1].split("questions:")[0]

    # The draft is checked by validate (warnings: too few examples) and never matched.
    out = io.StringIO()
    assert run_validate(str(knowledge_dir), stdout=out) == 0, out.getvalue()
    assert f"drafts/{draft.name}:" in out.getvalue()
    assert all(not e.id.startswith("draft-") for e in load_knowledge(knowledge_dir).entries)
