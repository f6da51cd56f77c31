"""The App Home tab under a store with 2,800 questions (issue 10, finding 5), on the real `dockbot serve`.

Everyone opens the Home tab, often; only admins see the stats report, which groups every unanswered question
and is the costly part. Non-admins must never make the bot build it; the admin's copy is built once and
served from the cache until new data arrives (the bot logs each build, which is what is counted here).
"""

from __future__ import annotations

import dataclasses
import itertools
import json
from pathlib import Path

import pytest
from slack_harness import (
    BOT_USER_ID,
    KNOWLEDGE_DIR,
    DockbotProcess,
    FakeSlack,
    SlackSender,
    dockbot_env,
    event_body,
    mention_event,
    new_ts,
)

from bot.brain import build_brain
from bot.config import Settings

ADMIN = "UHOMEADM"
QUESTIONS = 2800
WORDS = [
    "볼륨",
    "백업",
    "헬름",
    "차트",
    "이미지",
    "용량",
    "로그",
    "포트",
    "네트워크",
    "레지스트리",
    "빌드",
    "캐시",
    "시크릿",
    "인그레스",
    "노드",
    "스케줄",
    "크론잡",
    "권한",
    "인증서",
    "프록시",
    "메모리",
    "CPU",
    "재시작",
    "배포",
    "롤백",
    "모니터링",
    "알림",
    "디스크",
    "DNS",
    "타임아웃",
]


@pytest.fixture(scope="module")
def db_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """2,800 varied questions recorded through the real Brain (matcher + store), as a busy team would."""
    path = tmp_path_factory.mktemp("home-db") / "dockbot.db"
    settings = dataclasses.replace(Settings.from_env(), knowledge_dir=KNOWLEDGE_DIR, db_path=path)
    brain = build_brain(settings, with_demos=False)
    combos = itertools.cycle(itertools.permutations(WORDS, 3))
    for i in range(QUESTIONS):
        a, b, c = next(combos)
        brain.ask(
            f"{a} {b} {c} 어떻게 해요?", user=f"U{i % 60:05d}", channel="CASK0001", source="slack_mention"
        )
    brain.store.close()
    return path


@pytest.fixture(scope="module")
def bot(fake: FakeSlack, db_path: Path, tmp_path_factory: pytest.TempPathFactory) -> DockbotProcess:
    env = dockbot_env(fake, DOCKBOT_ADMINS=ADMIN, DOCKBOT_DB=str(db_path))
    proc = DockbotProcess(env, tmp_path_factory.mktemp("home-log") / "dockbot.log").start()
    yield proc
    proc.stop()


def open_home(fake: FakeSlack, slack: SlackSender, user: str) -> dict:
    before = len(fake.calls_of("views.publish"))
    event = {
        "type": "app_home_opened",
        "user": user,
        "channel": "DHOME001",
        "tab": "home",
        "event_ts": new_ts(),
    }
    assert slack.event(event_body(event)).status_code == 200
    fake.wait_for(lambda: len(fake.calls_of("views.publish")) > before, what=f"the Home view for {user}")
    (view,) = [c for c in fake.calls_of("views.publish")[before:] if c.params.get("user_id") == user]
    return view.params["view"]


def builds(bot: DockbotProcess) -> int:
    return bot.log_text().count("stats report built")


def test_non_admins_never_build_the_report(bot: DockbotProcess, fake: FakeSlack) -> None:
    slack = SlackSender(bot.base_url)
    for i in range(20):
        view = open_home(fake, slack, f"UVISIT{i:02d}")
        shown = json.dumps(view, ensure_ascii=False)
        assert "관리자: 통계 요약" not in shown and "어떻게 해요" not in shown
        assert "많이 묻는 주제" in shown and "/demo" in shown
    assert builds(bot) == 0


def test_the_admin_report_is_built_once_until_new_data(bot: DockbotProcess, fake: FakeSlack) -> None:
    slack = SlackSender(bot.base_url)
    for _ in range(5):
        view = json.dumps(open_home(fake, slack, ADMIN), ensure_ascii=False)
        assert "관리자: 통계 요약" in view and f"질문 *{QUESTIONS}*개" in view
    assert builds(bot) == 1
    # A new question is new data: the next open shows it (and rebuilt the report once for that).
    slack.event(event_body(mention_event(f"<@{BOT_USER_ID}> 쿼카 배포 일정 알려줘", channel="CHOME001")))
    fake.wait_for(lambda: fake.calls_of("chat.postMessage", "CHOME001"), what="the answer")
    view = json.dumps(open_home(fake, slack, ADMIN), ensure_ascii=False)
    assert f"질문 *{QUESTIONS + 1}*개" in view
    assert builds(bot) == 2
