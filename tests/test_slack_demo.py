"""/demo through the real `dockbot serve` (HTTP mode) on the REAL Docker engine: the live message is posted,
edited as steps finish (throttled), and ends with the conclusion; nothing labelled is left behind."""

from __future__ import annotations

import itertools
import json
import re

import pytest
from slack_harness import (
    DockbotProcess,
    FakeSlack,
    SlackSender,
    action_payload,
    command_form,
    dockbot_env,
    new_ts,
)

pytestmark = pytest.mark.docker

DEMO_CHANNEL = "CDEMOLIV"
NOT_MEMBER_CHANNEL = "CDEMONOT"
EDIT_S = 0.2


@pytest.fixture(scope="module")
def dockbot(fake: FakeSlack, docker_client, tmp_path_factory: pytest.TempPathFactory) -> DockbotProcess:
    # Demos here take about a second: a short edit interval makes the intermediate edits observable.
    env = dockbot_env(
        fake,
        DOCKBOT_DEMO_CHANNELS=f"{DEMO_CHANNEL},{NOT_MEMBER_CHANNEL}",
        DOCKBOT_DEMO_EDIT_INTERVAL_S=str(EDIT_S),
    )
    proc = DockbotProcess(env, tmp_path_factory.mktemp("slack-demo-log") / "dockbot.log").start()
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def slack(dockbot: DockbotProcess) -> SlackSender:
    return SlackSender(dockbot.base_url)


def _run_id(call) -> str:
    """The run id the final message shows: the value of the dockbot.demo label on what the run created."""
    match = re.search(r"실행 ID `([^`]+)`", call.all_text)
    assert match, "the final message names its run id"
    return match.group(1)


def _leftovers(docker_client, run_id: str) -> list[str]:
    # Only this run's objects: other demos may be running on the same engine at the same time.
    label = {"label": f"dockbot.demo={run_id}"}
    return (
        [c.name for c in docker_client.containers.list(all=True, filters=label)]
        + [v.name for v in docker_client.volumes.list(filters=label)]
        + [n.name for n in docker_client.networks.list(filters=label)]
    )


def _final_update(fake: FakeSlack, channel: str, ts: str):
    def final():
        done = [
            c
            for c in fake.calls_of("chat.update", channel)
            if c.params.get("ts") == ts and "결론" in c.all_text
        ]
        return done[-1] if done else None

    return fake.wait_for(final, timeout=120, what="the final demo result")


def test_demo_posts_then_edits_live_and_ends_with_the_conclusion(
    fake: FakeSlack, slack: SlackSender, docker_client
) -> None:
    response = slack.command(
        command_form(
            "/demo",
            "volumes",
            channel=DEMO_CHANNEL,
            user="UDEMO001",
            response_url=fake.response_url("demo-volumes"),
        )
    )
    assert response.status_code == 200
    (first,) = fake.wait_for(lambda: fake.calls_of("chat.postMessage", DEMO_CHANNEL), what="the live message")
    assert "volumes" in first.all_text and "<@UDEMO001>" in first.all_text
    ts = first.result["ts"]
    final = _final_update(fake, DEMO_CHANNEL, ts)
    updates = [c for c in fake.calls_of("chat.update", DEMO_CHANNEL) if c.params["ts"] == ts]
    # Edited as steps finished (intermediate edits show some steps and "실행 중"), never faster than the
    # configured interval, and coalesced (never more edits than steps + the final one).
    intermediate = [c for c in updates if "실행 중" in c.all_text]
    assert intermediate and len(updates) <= len(final.params["blocks"]) + 1
    gaps = [b.at - a.at for a, b in itertools.pairwise([first, *updates])]
    assert all(gap >= EDIT_S * 0.9 for gap in gaps), gaps
    blocks = json.dumps(final.params["blocks"], ensure_ascii=False)
    assert "docker volume create" in blocks or "docker run" in blocks  # the commands people should learn
    assert "✅" in blocks and ":tada:" in blocks
    assert updates[-1] is final
    assert _leftovers(docker_client, _run_id(final)) == []


def test_one_demo_per_user_the_second_gets_a_friendly_busy_message(
    fake: FakeSlack, slack: SlackSender, docker_client
) -> None:
    import threading

    urls = {name: fake.response_url(f"busy-{name}") for name in ("stateless", "network")}
    threads = [
        threading.Thread(
            target=slack.command,
            args=(command_form("/demo", name, channel=DEMO_CHANNEL, user="UBUSY001", response_url=url),),
        )
        for name, url in urls.items()
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    busy = fake.wait_for(
        lambda: [c for name in urls for c in fake.calls_of(f"response_url:busy-{name}")],
        what="the busy message",
    )
    assert len(busy) == 1 and "실행 중" in busy[0].params["text"]
    live = fake.wait_for(
        lambda: [c for c in fake.calls_of("chat.postMessage", DEMO_CHANNEL) if "<@UBUSY001>" in c.all_text],
        what="the one demo that runs",
    )
    assert len(live) == 1
    _final_update(fake, DEMO_CHANNEL, live[0].result["ts"])


def test_demo_button_on_an_answer_runs_it_in_the_answers_thread(
    fake: FakeSlack, slack: SlackSender, docker_client
) -> None:
    thread = new_ts()
    slack.action(
        action_payload(
            "dockbot_run_demo",
            "stateless",
            channel=DEMO_CHANNEL,
            user="UBUTTON1",
            response_url=fake.response_url("demo-button"),
            thread_ts=thread,
        )
    )
    (post,) = fake.wait_for(
        lambda: [c for c in fake.calls_of("chat.postMessage", DEMO_CHANNEL) if "<@UBUTTON1>" in c.all_text],
        what="the demo message in the thread",
    )
    assert post.params["thread_ts"] == thread
    final = _final_update(fake, DEMO_CHANNEL, post.result["ts"])
    assert _leftovers(docker_client, _run_id(final)) == []


def test_demo_where_the_bot_is_not_a_member_goes_through_the_response_url(
    fake: FakeSlack, slack: SlackSender, docker_client
) -> None:
    fake.fail[("chat.postMessage", NOT_MEMBER_CHANNEL)] = "not_in_channel"
    slack.command(
        command_form(
            "/demo",
            "volumes",
            channel=NOT_MEMBER_CHANNEL,
            user="UNOTMEM1",
            response_url=fake.response_url("demo-notin"),
        )
    )

    def final():
        calls = fake.calls_of("response_url:demo-notin")
        return calls if calls and "결론" in calls[-1].all_text else None

    calls = fake.wait_for(final, timeout=120, what="the final result through the response_url")
    assert len(calls) <= 5  # Slack accepts at most 5 uses of one response_url
    assert calls[0].params["response_type"] == "in_channel" and calls[-1].params["replace_original"] is True
    assert _leftovers(docker_client, _run_id(calls[-1])) == []
