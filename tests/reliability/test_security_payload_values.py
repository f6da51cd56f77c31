"""Values inside signed payloads that the bot must not trust (issue 10, findings 10 and 11), on the real
`dockbot serve` and the real `dockbot stats`.

- Votes: a button value that is not an entry id of the knowledge base (unknown, 2,000 characters, a newline,
  markup) is not stored and never shows in the stats; an action_id with a trailing newline matches no
  listener (patterns are anchored with \\Z, since `$` also matches before a final newline).
- A question quoted back keeps Slack from formatting it (*, _, ~, ` neutralised; &, <, > escaped).
- Question texts with ESC sequences and other control characters, stored from Slack, reach an admin's
  terminal through `dockbot stats` (text and --json) without a single control character.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from slack_harness import (
    BOT_USER_ID,
    REPO,
    DockbotProcess,
    FakeSlack,
    SlackSender,
    action_payload,
    command_form,
    dockbot_env,
    event_body,
    mention_event,
)

from bot.store import Store

ADMIN = "UADMIN01"
FORGED_VALUES = [
    "no-such-entry",
    "x" * 2000,
    "volume-named\n",
    "volume-named ",
    "<!channel>",
    "",
    "VOLUME-NAMED",
]
TERMINAL_ATTACK = (
    "\x1b]0;pwned\x07\x1b[2J\x1b[31m쿼카 배포\x9b1m 일정\x1b]52;c;ZXZpbA==\x07 알려줘\r\n가짜 줄"
)


@pytest.fixture(scope="module")
def db_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("values") / "dockbot.db"


@pytest.fixture(scope="module")
def bot(fake: FakeSlack, db_path: Path, tmp_path_factory: pytest.TempPathFactory) -> DockbotProcess:
    env = dockbot_env(fake, DOCKBOT_ADMINS=ADMIN, DOCKBOT_DB=str(db_path), DOCKBOT_DEMO_CHANNELS="CVALDEMO")
    proc = DockbotProcess(env, tmp_path_factory.mktemp("values-log") / "dockbot.log").start()
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def slack(bot: DockbotProcess) -> SlackSender:
    return SlackSender(bot.base_url)


def voted_entries(db_path: Path) -> set[str]:
    store = Store.open(db_path)
    try:
        return {v.entry_id for v in store.votes_by_entry()}
    finally:
        store.close()


def test_forged_vote_values_are_not_stored(
    fake: FakeSlack, slack: SlackSender, db_path: Path, figures
) -> None:
    for i, value in enumerate(FORGED_VALUES):
        name = f"forged-vote-{i}"
        payload = action_payload(
            "dockbot_vote_down",
            value,
            channel="CVOTE001",
            user="UVOTER01",
            response_url=fake.response_url(name),
        )
        assert slack.action(payload).status_code == 200
        (reply,) = fake.wait_for(lambda name=name: fake.calls_of(f"response_url:{name}"), what=name)
        assert "기록하지 않았어요" in reply.params["text"]
        assert "x" * 50 not in reply.all_text and "<!channel>" not in reply.all_text
        figures.add("payload_values", "forged_votes_ignored")
    # A forged message ts (the vote's key) is refused the same way, even with a real entry id.
    payload = action_payload(
        "dockbot_vote_up",
        "volume-named",
        channel="CVOTE001",
        user="UVOTER01",
        response_url=fake.response_url("forged-ts"),
        message_ts="1710000000.000001\n" + "9" * 500,
    )
    slack.action(payload)
    fake.wait_for(lambda: fake.calls_of("response_url:forged-ts"), what="the forged ts reply")
    # A real vote still counts, and it is the only thing stored.
    slack.action(
        action_payload(
            "dockbot_vote_up",
            "volume-named",
            channel="CVOTE001",
            user="UVOTER01",
            response_url=fake.response_url("ok"),
        )
    )
    (thanks,) = fake.wait_for(lambda: fake.calls_of("response_url:ok"), what="thanks")
    assert "고마워요" in thanks.params["text"]
    assert voted_entries(db_path) == {"volume-named"}
    # And the admin's stats show none of the forged values.
    slack.command(
        command_form(
            "/dockbot", "stats", channel="CVOTE001", user=ADMIN, response_url=fake.response_url("st")
        )
    )
    (stats,) = fake.wait_for(lambda: fake.calls_of("response_url:st"), what="stats")
    assert "no-such-entry" not in stats.all_text and "x" * 50 not in stats.all_text


@pytest.mark.parametrize(
    "action_id", ["dockbot_vote_up\n", "dockbot_pick_1\n", "dockbot_run_demo\n", "dockbot_pick_1\nx"]
)
def test_action_ids_with_a_trailing_newline_match_nothing(
    fake: FakeSlack, slack: SlackSender, db_path: Path, action_id: str
) -> None:
    name = f"newline-{abs(hash(action_id))}"
    before = len(fake.calls)
    payload = action_payload(
        action_id, "volume-named", channel="CVALDEMO", user="UNEWLINE", response_url=fake.response_url(name)
    )
    assert slack.action(payload).status_code == 404  # Bolt: no listener for this action
    time.sleep(0.5)
    assert fake.calls[before:] == []
    assert "UNEWLINE" not in json.dumps([c.params for c in fake.calls], ensure_ascii=False)


def test_quoted_questions_cannot_format_the_reply(fake: FakeSlack, slack: SlackSender, figures) -> None:
    typed = "*굵게* _기울임_ ~취소~ `코드` &amp; 점심 메뉴 추천해줘"  # Slack sends a typed & as &amp;
    slack.event(event_body(mention_event(f"<@{BOT_USER_ID}> {typed}", channel="CQUOTE01")))
    (post,) = fake.wait_for(lambda: fake.calls_of("chat.postMessage", "CQUOTE01"), what="the reply")
    quoted = [
        line[2:]
        for block in post.params["blocks"]
        if block.get("type") == "section"
        for line in block["text"]["text"].splitlines()
        if line.startswith("> ")
    ]
    assert quoted, post.params["blocks"]
    for line in quoted:
        assert re.search("(?<!\u200b)[*_~`]|[*_~`](?!\u200b)", line) is None, line
        assert line.replace("\u200b", "") == "*굵게* _기울임_ ~취소~ `코드` &amp; 점심 메뉴 추천해줘"
    figures.add("payload_values", "quotes_checked", len(quoted))


def test_control_characters_never_reach_the_admins_terminal(
    bot: DockbotProcess, fake: FakeSlack, slack: SlackSender, db_path: Path, figures
) -> None:
    slack.event(event_body(mention_event(f"<@{BOT_USER_ID}> {TERMINAL_ATTACK}", channel="CTERM001")))
    fake.wait_for(lambda: fake.calls_of("chat.postMessage", "CTERM001"), what="the reply")
    # The bot's own terminal output (its log) and the admin's `dockbot stats`, text and JSON.
    env = {**bot.env, "DOCKBOT_DB": str(db_path)}
    outputs = {}
    for args in ([], ["--json"], ["--suggest"]):
        done = subprocess.run(
            [sys.executable, "-m", "bot", "stats", *args], cwd=REPO, env=env, capture_output=True, timeout=120
        )
        assert done.returncode == 0, done.stderr[-2000:]
        outputs[" ".join(args) or "text"] = done.stdout.decode("utf-8")
    for name, out in outputs.items():
        bad = sorted({f"U+{ord(ch):04X}" for ch in out if _is_control(ch) and ch not in "\n"})
        assert bad == [], (name, bad)
        assert "쿼카 배포" in out, name  # the question is there, only its control characters are gone
        assert not any(line.startswith("가짜 줄") for line in out.splitlines()), name
    assert json.loads(outputs["--json"])["total_questions"] >= 1
    log = bot.log_text()
    assert "\x1b" not in log and "\x9b" not in log
    figures.add("payload_values", "terminal_outputs_checked", len(outputs))


def _is_control(ch: str) -> bool:
    import unicodedata

    return unicodedata.category(ch) == "Cc" or ch in "\u2028\u2029"
