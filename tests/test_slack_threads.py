"""Follow-ups in Slack threads: the real `dockbot serve` (HTTP, a subprocess) with signed events and the fake
Slack Web API. A follow-up with a mention, a thread reply without one (message.channels), a DM conversation,
and what must stay quiet: people talking in a thread the bot never answered, and top-level chatter."""

from __future__ import annotations

from pathlib import Path

import pytest
from slack_harness import (
    BOT_USER_ID,
    DockbotProcess,
    FakeSlack,
    SlackSender,
    action_payload,
    dm_event,
    dockbot_env,
    event_body,
    mention_event,
    new_ts,
)


@pytest.fixture(scope="module")
def dockbot(fake: FakeSlack, tmp_path_factory: pytest.TempPathFactory) -> DockbotProcess:
    db = tmp_path_factory.mktemp("threads-db") / "dockbot.db"
    env = dockbot_env(fake, DOCKBOT_DB=str(db))
    proc = DockbotProcess(env, tmp_path_factory.mktemp("threads-log") / "dockbot.log").start()
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def slack(dockbot: DockbotProcess) -> SlackSender:
    return SlackSender(dockbot.base_url)


def thread_reply(text: str, *, channel: str, thread_ts: str, user: str = "UASKER01") -> dict:
    ts = new_ts()
    return {
        "type": "message",
        "channel_type": "channel",
        "user": user,
        "text": text,
        "ts": ts,
        "thread_ts": thread_ts,
        "channel": channel,
        "event_ts": ts,
    }


def posts(fake: FakeSlack, channel: str, count: int, what: str) -> list:
    return fake.wait_for(
        lambda: (found := fake.calls_of("chat.postMessage", channel)) and len(found) >= count and found,
        what=what,
    )


def ask_named_volumes(fake: FakeSlack, slack: SlackSender, channel: str) -> str:
    first = mention_event(f"<@{BOT_USER_ID}> 명명된 볼륨이 뭐야?", channel=channel)
    assert slack.event(event_body(first)).status_code == 200
    (answer,) = posts(fake, channel, 1, "the first answer")
    assert answer.params["thread_ts"] == first["ts"]
    assert "명명된 볼륨 (named volume)" in answer.all_text
    return first["ts"]


def test_follow_up_with_a_mention_in_the_thread(fake: FakeSlack, slack: SlackSender) -> None:
    root = ask_named_volumes(fake, slack, "CTHREAD1")
    follow_up = mention_event(f"<@{BOT_USER_ID}> 그럼 익명인 건?", channel="CTHREAD1")
    follow_up["thread_ts"] = root
    slack.event(event_body(follow_up))
    second = posts(fake, "CTHREAD1", 2, "the follow-up answer")[1]
    assert second.params["thread_ts"] == root
    assert "익명 볼륨 (anonymous volume)" in second.all_text
    assert "답을 못 찾았어요" not in second.all_text


def test_follow_up_without_a_mention_in_a_thread_the_bot_answered(
    fake: FakeSlack, slack: SlackSender
) -> None:
    root = ask_named_volumes(fake, slack, "CTHREAD2")
    slack.event(event_body(thread_reply("그럼 익명인 건?", channel="CTHREAD2", thread_ts=root)))
    second = posts(fake, "CTHREAD2", 2, "the follow-up answer")[1]
    assert second.params["thread_ts"] == root
    assert "익명 볼륨 (anonymous volume)" in second.all_text
    slack.event(event_body(thread_reply("그거 지우려면?", channel="CTHREAD2", thread_ts=root)))
    third = posts(fake, "CTHREAD2", 3, "the second follow-up")[2]
    assert "docker volume rm" in third.all_text


def test_a_mention_delivered_also_as_a_message_is_answered_once(fake: FakeSlack, slack: SlackSender) -> None:
    root = ask_named_volumes(fake, slack, "CTHREAD3")
    mention = mention_event(f"<@{BOT_USER_ID}> 그럼 익명인 건?", channel="CTHREAD3")
    mention["thread_ts"] = root
    as_message = thread_reply(mention["text"], channel="CTHREAD3", thread_ts=root)
    as_message["ts"] = mention["ts"]
    slack.event(event_body(as_message))
    slack.event(event_body(mention))
    posts(fake, "CTHREAD3", 2, "the follow-up answer")
    # A later reply in the same thread, answered after the two deliveries above were handled.
    slack.event(event_body(thread_reply("그거 지우려면?", channel="CTHREAD3", thread_ts=root)))
    posts(fake, "CTHREAD3", 3, "the later follow-up")
    texts = [p.all_text for p in fake.calls_of("chat.postMessage", "CTHREAD3")]
    assert len(texts) == 3  # the follow-up once, then the later one
    assert "익명 볼륨 (anonymous volume)" in texts[1] and "docker volume rm" in texts[2]


def test_threads_the_bot_never_answered_and_top_level_chatter_stay_quiet(
    fake: FakeSlack, slack: SlackSender
) -> None:
    stranger_root = new_ts()
    slack.event(event_body(thread_reply("그럼 익명인 건?", channel="CQUIET01", thread_ts=stranger_root)))
    top_level = thread_reply("명명된 볼륨이 뭐야?", channel="CQUIET01", thread_ts="")
    del top_level["thread_ts"]
    slack.event(event_body(top_level))
    # A marker message the bot does answer, sent last: once it is answered, the two above were not.
    ask_named_volumes(fake, slack, "CQUIET01")
    assert len(fake.calls_of("chat.postMessage", "CQUIET01")) == 1


def test_follow_up_in_a_dm_conversation(fake: FakeSlack, slack: SlackSender) -> None:
    slack.event(event_body(dm_event("명명된 볼륨이 뭐야?", channel="DTHREAD1")))
    posts(fake, "DTHREAD1", 1, "the DM answer")
    slack.event(event_body(dm_event("그럼 익명인 건?", channel="DTHREAD1")))
    second = posts(fake, "DTHREAD1", 2, "the DM follow-up")[1]
    assert "익명 볼륨 (anonymous volume)" in second.all_text


def test_a_picked_suggestion_becomes_the_thread_topic(fake: FakeSlack, slack: SlackSender) -> None:
    root = new_ts()
    payload = action_payload(
        "dockbot_pick_0",
        "volume-named",
        channel="CTHREAD4",
        user="UASKER01",
        response_url=fake.response_url("pick"),
        thread_ts=root,
    )
    assert slack.action(payload).status_code == 200
    posts(fake, "CTHREAD4", 1, "the picked answer")
    slack.event(event_body(thread_reply("그럼 익명인 건?", channel="CTHREAD4", thread_ts=root)))
    second = posts(fake, "CTHREAD4", 2, "the follow-up of the picked answer")[1]
    assert "익명 볼륨 (anonymous volume)" in second.all_text


def test_manifest_subscribes_to_channel_messages() -> None:
    manifest = (Path(__file__).resolve().parent.parent / "slack-manifest.yaml").read_text()
    for needed in ("message.channels", "channels:history", "message.groups", "groups:history"):
        assert needed in manifest
