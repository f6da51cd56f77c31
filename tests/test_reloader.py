"""Hot reload under a running bot: the real knowledge/ (a private copy), the real Brain and matcher.

Edits are made the way an admin makes them (rewrite the file on disk); the watcher notices by itself.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.brain import Brain
from bot.config import Settings
from bot.live_knowledge import LiveKnowledge
from bot.reloader import KnowledgeReloader

QUESTION = "헬름 차트가 뭐야?"
NEW_ID = "helm-chart"
# A complete, valid entry appended to practices.yaml: the first line of the entry is line `start`.
HELM_ENTRY = """
  - id: helm-chart
    title: 헬름 차트 (Helm chart)
    answer: |
      Helm은 쿠버네티스 매니페스트를 템플릿으로 묶어 배포하는 패키지 관리자예요.
      차트 하나에 Deployment, Service 같은 YAML이 values.yaml 값으로 채워져 들어가요.
    commands:
      - |
        helm install web ./chart -f values.yaml
    related: [k8s-basics]
    keywords: [helm, 헬름, helm chart, 헬름 차트, values.yaml]
    questions:
      - 헬름 차트가 뭐야?
      - helm chart 뭐임
      - 헬름 쓰면 뭐가 좋아요?
      - helm install 하면 무슨 일이 일어나요?
      - values.yaml 은 헬름에서 뭐하는 파일이에요?
      - 헬름으로 배포하는 법
      - 헬름 차트 만드는 방법 알려주세요
      - helm 패키지 관리자
"""


# A hang guard, not a threshold: under load a reload (an interim model fit) can take minutes; the tests wait
# for the event itself (the watcher running, a reload that read the edit) and then assert once.
HANG_GUARD_S = 280.0


def wait_until(
    predicate: Callable[[], object], timeout: float = HANG_GUARD_S, what: str = "condition"
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def wait_for_reload_of(reloader: KnowledgeReloader, path: Path) -> None:
    """Until a reload that began after `path` was last written has finished (and sent its notices)."""
    saved = path.stat().st_mtime
    wait_until(lambda: reloader.last_reload_began >= saved, what=f"a reload that read {path.name}")


def answered_id(brain: Brain, text: str) -> str | None:
    answer = brain.ask(text, user="U1", channel="C1", source="test")
    return answer.match.entry.id if answer.outcome == "answered" and answer.match else None


@pytest.fixture
def brain(knowledge_copy: Path, tmp_path: Path):
    from bot.store import Store

    settings = Settings(
        knowledge_dir=knowledge_copy, db_path=tmp_path / "dockbot.db", admins=frozenset({"UADMIN"})
    )
    brain = Brain(
        settings=settings,
        knowledge=LiveKnowledge.load(knowledge_copy),
        store=Store.open(tmp_path / "dockbot.db"),
    )
    yield brain
    brain.stop_watching()


def add_helm_entry(practices: Path) -> int:
    """Append HELM_ENTRY; return the line of its `title:` key."""
    before = practices.read_text(encoding="utf-8").rstrip("\n") + "\n"
    practices.write_text(before + HELM_ENTRY.lstrip("\n"), encoding="utf-8")
    return before.count("\n") + 2


@pytest.mark.timeout(4 * HANG_GUARD_S)
@pytest.mark.parametrize("force_polling", [False, True], ids=["watchfiles", "polling"])
def test_edits_under_a_running_bot_valid_invalid_fixed(brain, knowledge_copy, force_polling):
    notices: list[str] = []
    practices = knowledge_copy / "practices.yaml"
    assert answered_id(brain, QUESTION) != NEW_ID
    brain.start_watching(notices.append, force_polling=force_polling)
    reloader = brain.reloader
    assert reloader is not None
    wait_until(lambda: reloader.mode is not None, what="the watcher to start")  # set once it sees edits

    # 1. A valid edit: the running bot answers from it, without a restart, and nobody is bothered.
    title_line = add_helm_entry(practices)
    wait_for_reload_of(reloader, practices)
    assert answered_id(brain, QUESTION) == NEW_ID
    assert notices == []

    # 2. An invalid edit (a duplicate key): the last good knowledge keeps answering; admins get path:line.
    good = practices.read_text(encoding="utf-8")
    lines = good.splitlines(keepends=True)
    assert lines[title_line - 1].startswith("    title:")
    lines.insert(title_line, "    title: 두 번째 제목\n")
    practices.write_text("".join(lines), encoding="utf-8")
    wait_for_reload_of(reloader, practices)
    assert len(notices) == 1
    assert f"{practices}:{title_line + 1}:" in notices[0]
    assert "duplicate key 'title'" in notices[0]
    assert answered_id(brain, QUESTION) == NEW_ID

    # Saving again with the same mistake (another harmless change) does not repeat the notice.
    practices.write_text("".join(lines) + "# 메모\n", encoding="utf-8")
    wait_for_reload_of(reloader, practices)
    assert len(notices) == 1
    assert answered_id(brain, QUESTION) == NEW_ID

    # 3. Fixed: one "fixed" notice, and the fixed content is served.
    practices.write_text(good.replace("헬름 차트 (Helm chart)", "헬름 차트 (Helm)"), encoding="utf-8")
    wait_for_reload_of(reloader, practices)
    assert len(notices) == 2
    assert "고쳐져" in notices[1]
    assert brain.knowledge.current.kb.get(NEW_ID).title == "헬름 차트 (Helm)"
    assert answered_id(brain, QUESTION) == NEW_ID


def test_manual_reload_reports_broken_once_then_fixed(brain, knowledge_copy):
    notices: list[str] = []
    reloader = KnowledgeReloader(brain.knowledge, knowledge_copy, notices.append)
    volumes = knowledge_copy / "volumes.yaml"
    good = volumes.read_text(encoding="utf-8")
    assert reloader.reload().changed is False

    volumes.write_text(good.replace("entries:", "entries: [", 1), encoding="utf-8")
    first = reloader.reload()
    assert not first.ok and first.problems
    assert first.version == brain.knowledge.current.version  # still serving the last good one
    again = reloader.reload()
    assert not again.ok
    assert len(notices) == 1 and str(first.problems[0]) in notices[0]
    assert str(volumes) in notices[0]

    # A different mistake is a new broken version: a new notice.
    volumes.write_text(good + "\nbogus: [\n", encoding="utf-8")
    assert not reloader.reload().ok
    assert len(notices) == 2
    assert reloader.broken is not None

    volumes.write_text(good, encoding="utf-8")
    assert reloader.reload().ok
    assert len(notices) == 3 and "고쳐져" in notices[2]
    assert reloader.broken is None
    assert reloader.reload().ok and len(notices) == 3


def test_a_failing_notifier_does_not_stop_reloads(brain, knowledge_copy):
    def broken_notify(_text: str) -> None:
        raise ConnectionError("slack is down")

    reloader = KnowledgeReloader(brain.knowledge, knowledge_copy, broken_notify)
    volumes = knowledge_copy / "volumes.yaml"
    good = volumes.read_text(encoding="utf-8")
    volumes.write_text("entries: [\n", encoding="utf-8")
    assert not reloader.reload().ok
    volumes.write_text(good, encoding="utf-8")
    assert reloader.reload().ok


def test_watcher_falls_back_to_polling_when_watchfiles_fails(brain, knowledge_copy, monkeypatch):
    import watchfiles

    def no_inotify(*_args, **_kwargs):
        raise OSError(28, "inotify watch limit reached")

    monkeypatch.setattr(watchfiles, "watch", no_inotify)
    brain.start_watching(lambda _t: None)
    reloader = brain.reloader
    assert reloader is not None
    wait_until(lambda: reloader.mode == "polling", what="polling mode")
    add_helm_entry(knowledge_copy / "practices.yaml")
    wait_for_reload_of(reloader, knowledge_copy / "practices.yaml")
    assert answered_id(brain, QUESTION) == NEW_ID


def test_questions_never_fail_while_another_thread_reloads(brain, knowledge_copy):
    practices = knowledge_copy / "practices.yaml"
    original = practices.read_text(encoding="utf-8")
    add_helm_entry(practices)
    with_helm = practices.read_text(encoding="utf-8")
    broken = with_helm.replace("entries:", "entries: [", 1)
    questions = [
        QUESTION,
        "명명된 볼륨이 뭐야?",
        "컨테이너 지웠더니 데이터가 날아갔어요",
        "점심 뭐 먹지",
        "",
        "k8s 노드",
    ]
    stop = threading.Event()
    failures: list[BaseException] = []
    seen: dict[str | None, int] = {}
    asked = [0]

    def ask_forever(seed: int) -> None:
        rng = random.Random(seed)
        while not stop.is_set():
            try:
                text = rng.choice(questions)
                answer = brain.ask(text, user=f"U{seed}", channel="C1", source="test")
                assert answer.outcome in ("answered", "suggested", "no_answer", "invalid")
                if text == QUESTION:
                    key = answer.match.entry.id if answer.match else None
                    seen[key] = seen.get(key, 0) + 1
                asked[0] += 1
            except BaseException as exc:
                failures.append(exc)
                return

    askers = [threading.Thread(target=ask_forever, args=(n,)) for n in range(4)]
    for t in askers:
        t.start()
    results = []
    try:
        for content in [with_helm, broken, original, with_helm, broken, with_helm, original, with_helm]:
            practices.write_text(content, encoding="utf-8")
            results.append(brain.reload())
    finally:
        stop.set()
        for t in askers:
            t.join(30)
    assert failures == []
    assert asked[0] > 0
    assert [r.ok for r in results] == [True, False, True, True, False, True, True, True]
    assert NEW_ID in seen  # the swaps really happened under the askers
    assert answered_id(brain, QUESTION) == NEW_ID
    # Every question was recorded while reloading, too.
    assert brain.store is not None and brain.store.outcome_counts().total >= asked[0]


def test_only_admins_are_admins(brain):
    assert brain.is_admin("UADMIN")
    assert not brain.is_admin("U1")
    assert not brain.is_admin("")


# ---- through Slack: `dockbot serve` with the fake Slack Web API (tests/slack_harness.py) ---------------


def test_slack_bot_hot_reloads_and_tells_admins_by_dm(knowledge_copy, tmp_path):
    from slack_harness import (
        BOT_USER_ID,
        DockbotProcess,
        FakeSlack,
        SlackSender,
        command_form,
        dockbot_env,
        event_body,
        mention_event,
    )

    admin, someone = "UADMIN01", "UMEMBER1"
    fake = FakeSlack().start()
    env = dockbot_env(
        fake,
        DOCKBOT_ADMINS=admin,
        DOCKBOT_DB=str(tmp_path / "dockbot.db"),
        DOCKBOT_KNOWLEDGE_DIR=str(knowledge_copy),
    )
    bot = DockbotProcess(env, tmp_path / "dockbot.log").start()
    try:
        slack = SlackSender(bot.base_url)

        def ask(channel: str) -> str:
            slack.event(event_body(mention_event(f"<@{BOT_USER_ID}> {QUESTION}", channel=channel)))
            (post,) = fake.wait_for(lambda: fake.calls_of("chat.postMessage", channel), what="an answer")
            return post.all_text

        practices = knowledge_copy / "practices.yaml"
        assert "헬름 차트 (Helm chart)" not in ask("CASK0001")
        first_version = served_version(bot)
        # The watcher logs this once inotify is set up (bot/reloader.py): from then on no edit is missed.
        wait_until(
            lambda: "for knowledge edits" in bot.log_path.read_text(errors="replace"), what="the watcher"
        )
        title_line = add_helm_entry(practices)
        good = practices.read_text(encoding="utf-8")
        wait_until(lambda: served_version(bot) != first_version, what="the edit to be served")
        assert "헬름 차트 (Helm chart)" in ask("CASK0002")

        lines = good.splitlines(keepends=True)
        lines.insert(title_line, "    title: 두 번째 제목\n")
        practices.write_text("".join(lines), encoding="utf-8")
        (notice,) = fake.wait_for(lambda: fake.calls_of("chat.postMessage", admin), 60, "the admin DM")
        assert f"{practices}:{title_line + 1}:" in notice.params["text"]
        assert "헬름 차트 (Helm chart)" in ask("CASK0003")  # the last good knowledge still answers

        practices.write_text(good, encoding="utf-8")
        fake.wait_for(lambda: len(fake.calls_of("chat.postMessage", admin)) == 2, 60, "the fixed DM")
        assert "고쳐져" in fake.calls_of("chat.postMessage", admin)[1].params["text"]
        assert not fake.calls_of("chat.postMessage", someone)  # only admins are told

        # Non-admins get a polite no for reload and stats; the admin gets the stats.
        for sub in ("reload", "stats"):
            slack.command(
                command_form(
                    "/dockbot",
                    sub,
                    channel="CASK0001",
                    user=someone,
                    response_url=fake.response_url(f"no-{sub}"),
                )
            )
            (reply,) = fake.wait_for(lambda sub=sub: fake.calls_of(f"response_url:no-{sub}"), what="no")
            assert "관리자만" in reply.params["text"] and "×" not in reply.all_text
        slack.command(
            command_form(
                "/dockbot", "stats", channel="CASK0001", user=admin, response_url=fake.response_url("stats")
            )
        )
        (stats,) = fake.wait_for(lambda: fake.calls_of("response_url:stats"), what="stats")
        assert "dockbot 통계" in stats.all_text

        # App Home: everyone sees demos and topics; only the admin sees the stats summary.
        for user in (someone, admin):
            home = {"type": "app_home_opened", "user": user, "channel": "DHOME", "tab": "home"}
            slack.event(event_body(home))
        fake.wait_for(lambda: len(fake.calls_of("views.publish")) == 2, what="two Home views")
        views = fake.calls_of("views.publish")
        by_user = {c.params["user_id"]: json.dumps(c.params["view"], ensure_ascii=False) for c in views}
        assert "/demo volumes" in by_user[someone] and "관리자" not in by_user[someone]
        assert "관리자: 통계 요약" in by_user[admin] and "질문 *" in by_user[admin]
    finally:
        bot.stop()
        fake.stop()
    assert "Traceback" not in bot.log_text()


def served_version(bot) -> str:
    import requests

    return str(requests.get(bot.base_url + "/healthz", timeout=5).json().get("knowledge_version"))
