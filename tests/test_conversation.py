"""Follow-ups (bot/conversation.py) on the real knowledge base: in the Brain, the terminal chat (a real
`dockbot chat` process), and the conversation topics in the store on SQLite and on PostgreSQL."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot.brain import Brain
from bot.chat import chat_loop
from bot.config import Settings
from bot.conversation import Conversations, LocalTopics, Topic, asks_for_an_example, may_lean_on_context
from bot.database import open_store
from bot.live_knowledge import LiveKnowledge
from bot.store import Store

REPO = Path(__file__).resolve().parent.parent
KNOWLEDGE = REPO / "knowledge"


@pytest.fixture(scope="module")
def knowledge() -> LiveKnowledge:
    return LiveKnowledge.load(KNOWLEDGE)


def brain_of(knowledge: LiveKnowledge, store: Store | None = None) -> Brain:
    return Brain(settings=Settings(), knowledge=knowledge, store=store)


def answered(answer) -> str | None:
    return answer.match.entry.id if answer.outcome == "answered" and answer.match else None


# ---- the bar and the other follow-ups -------------------------------------------------------------------


def test_the_bar_anonymous_after_named_volumes(knowledge: LiveKnowledge) -> None:
    brain = brain_of(knowledge)
    alone = brain.ask("그럼 익명인 건?")
    assert answered(alone) != "volume-anonymous"  # on its own the follow-up cannot be answered
    assert answered(brain.ask("명명된 볼륨이 뭐야?", conversation="t1")) == "volume-named"
    assert answered(brain.ask("그럼 익명인 건?", conversation="t1")) == "volume-anonymous"


@pytest.mark.parametrize(
    ("first", "follow_up", "expected"),
    [
        ("명명된 볼륨이 뭐야?", "그거 지우려면?", "volume-cleanup"),
        ("명명된 볼륨이 뭐야?", "그거 지우려면 어떻게 해?", "volume-cleanup"),
        ("명명된 볼륨이 뭐야?", "예시 보여줘", "volume-named"),
        ("컨테이너끼리 이름으로 통신하려면?", "예시 좀 보여줘", "network-container-communication"),
        ("명명된 볼륨이 뭐야?", "쿠버네티스에서는?", "k8s-persistent-volume"),
        ("컨테이너란?", "쿠버네티스에서는?", "k8s-container"),
        ("익명 볼륨이 뭐야?", "그거 지우려면?", "volume-cleanup"),
    ],
)
def test_follow_ups_are_read_with_the_thread_topic(knowledge, first, follow_up, expected) -> None:
    brain = brain_of(knowledge)
    assert answered(brain.ask(first, conversation="t")) is not None
    assert answered(brain.ask(follow_up, conversation="t")) == expected


def test_a_follow_up_naming_a_new_topic_is_answered_on_its_own(knowledge: LiveKnowledge) -> None:
    brain = brain_of(knowledge)
    brain.ask("명명된 볼륨이 뭐야?", conversation="t")
    assert answered(brain.ask("그럼 바인드 마운트는?", conversation="t")) == "bind-mount"
    assert answered(brain.ask("도커 컴포즈란?", conversation="t")) == "compose-basics"
    # ...and the new topic is the thread's topic from then on.
    assert answered(brain.ask("예시 보여줘", conversation="t")) == "compose-basics"


def test_conversations_do_not_leak_into_each_other(knowledge: LiveKnowledge) -> None:
    brain = brain_of(knowledge)
    brain.ask("명명된 볼륨이 뭐야?", conversation="a")
    brain.ask("포드가 뭐야?", conversation="b")
    assert answered(brain.ask("예시 보여줘", conversation="a")) == "volume-named"
    assert answered(brain.ask("예시 보여줘", conversation="b")) == "k8s-pod"
    # No conversation: nothing to lean on (whatever the matcher makes of the words alone).
    assert answered(brain.ask("예시 보여줘")) not in ("volume-named", "k8s-pod")


def test_follow_up_shapes() -> None:
    for text in ("그럼 익명인 건?", "지우려면?", "예시 보여줘", "쿠버네티스에서는?", "명명된 볼륨이 뭐야?"):
        assert may_lean_on_context(text), text
    long_one = "컨테이너끼리 이름으로 통신하려면 어떻게 설정해야 하나요? 네트워크를 따로 만들어야 하나요?"
    for text in ("", "   ", long_one):
        assert not may_lean_on_context(text), text
    for text in ("예시 보여줘", "그거 예시 좀 보여주세요", "예제 있어?", "명령어 좀 알려줘"):
        assert asks_for_an_example(text), text
    assert not asks_for_an_example("볼륨 지우는 예시 보여줘")


def test_local_topics_are_bounded_and_expire() -> None:
    memory = LocalTopics(limit=3)
    for i in range(5):
        memory.remember_topic(f"k{i}", Topic("volume-named", "q"), max_age_s=60)
    assert memory.recall_topic("k0", max_age_s=60) is None  # evicted: least recently used
    assert memory.recall_topic("k4", max_age_s=60) == Topic("volume-named", "q")
    assert memory.recall_topic("k4", max_age_s=0) is None  # expired


# ---- the terminal chat ---------------------------------------------------------------------------------


def test_terminal_chat_follow_ups(knowledge: LiveKnowledge) -> None:
    out = io.StringIO()
    lines = "명명된 볼륨이 뭐야?\n그럼 익명인 건?\n그거 지우려면?\n"
    assert chat_loop(brain_of(knowledge), io.StringIO(lines), out, prompt=False) == 0
    text = out.getvalue()
    titles = ("[명명된 볼륨", "[익명 볼륨", "[쌓인 볼륨 정리")
    assert [text.index(t) for t in titles] == sorted(text.index(t) for t in titles)
    assert "답을 못 찾았어요" not in text


def test_dockbot_chat_process_answers_the_bar(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DOCKBOT_"))}
    env.update(DOCKBOT_KNOWLEDGE_DIR=str(KNOWLEDGE), DOCKBOT_DB=str(tmp_path / "chat.db"))
    env["XDG_CACHE_HOME"] = str(tmp_path / "cache")
    done = subprocess.run(
        [sys.executable, "-m", "bot", "chat"],
        input="명명된 볼륨이 뭐야?\n그럼 익명인 건?\n",
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    after = done.stdout.split("[명명된 볼륨 (named volume)]", 1)[1]
    assert "[익명 볼륨 (anonymous volume)]" in after
    assert "Traceback" not in done.stderr


# ---- topics in the store ---------------------------------------------------------------------------------


def _topics_round_trip(store: Store) -> None:
    assert store.recall_topic("slack:C1:1.2", max_age_s=60) is None
    assert store.remember_topic("slack:C1:1.2", Topic("volume-named", "명명된 볼륨이 뭐야?"), max_age_s=60)
    assert store.remember_topic("slack:C1:1.2", Topic("volume-anonymous", "그럼 익명인 건?"), max_age_s=60)
    assert store.recall_topic("slack:C1:1.2", max_age_s=60) == Topic("volume-anonymous", "그럼 익명인 건?")
    time.sleep(0.05)
    assert store.recall_topic("slack:C1:1.2", max_age_s=0.01) is None  # past the TTL: forgotten


def test_topics_in_sqlite_are_shared_by_two_stores(tmp_path: Path, knowledge: LiveKnowledge) -> None:
    db = tmp_path / "dockbot.db"
    first, second = Store.open(db), Store.open(db)
    try:
        _topics_round_trip(first)
        # Two replicas on one database: the thread started on one is followed up on the other.
        brain_of(knowledge, first).ask("명명된 볼륨이 뭐야?", conversation="slack:C9:5.5")
        assert answered(brain_of(knowledge, second).ask("그럼 익명인 건?", conversation="slack:C9:5.5")) == (
            "volume-anonymous"
        )
    finally:
        first.close()
        second.close()


def test_topics_in_postgres(postgres_url: str, knowledge: LiveKnowledge) -> None:
    first, second = open_store(postgres_url), open_store(postgres_url)
    try:
        _topics_round_trip(first)
        Conversations(first).remember("slack:C9:6.6", "volume-named", "명명된 볼륨이 뭐야?")
        assert answered(brain_of(knowledge, second).ask("그럼 익명인 건?", conversation="slack:C9:6.6")) == (
            "volume-anonymous"
        )
    finally:
        first.close()
        second.close()


def _pty_chat(tmp_path: Path):
    """A real `dockbot chat` on a pseudo-terminal (readline active), with its environment."""
    import pty

    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DOCKBOT_"))}
    env.update(DOCKBOT_KNOWLEDGE_DIR=str(KNOWLEDGE), DOCKBOT_DB=str(tmp_path / "chat.db"), TERM="xterm")
    env["XDG_CACHE_HOME"] = str(tmp_path / "cache")
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "chat"], stdin=slave, stdout=slave, stderr=slave, cwd=REPO, env=env
    )
    os.close(slave)
    return proc, master


def _read_until(
    master: int, marker: str, seen: bytearray, *, times: int = 1, timeout_s: float = 120.0
) -> str:
    """Read until `marker` has appeared `times` times in all output so far (earlier answers count)."""
    import select

    deadline = time.monotonic() + timeout_s
    while seen.count(marker.encode()) < times:
        if time.monotonic() > deadline:
            raise AssertionError(
                f"no {marker!r} in the terminal output: {seen.decode(errors='replace')[-2000:]}"
            )
        ready, _, _ = select.select([master], [], [], 1.0)
        if ready:
            try:
                seen.extend(os.read(master, 65536))
            except OSError:  # the child closed the terminal
                break
    return seen.decode(errors="replace")


def test_terminal_chat_on_a_pty_pastes_follow_ups_and_history(tmp_path: Path) -> None:
    proc, master = _pty_chat(tmp_path)
    seen = bytearray()
    try:
        _read_until(master, "질문> ", seen)
        # A question pasted over two lines arrives in one burst: one question, one answer.
        os.write(master, "명명된 볼륨이\n뭐야?\n".encode())
        _read_until(master, "[명명된 볼륨 (named volume)]", seen)
        _read_until(master, "질문> ", seen, times=2)
        os.write(master, "그럼 익명인 건?\n".encode())
        _read_until(master, "[익명 볼륨 (anonymous volume)]", seen)
        # Ctrl-D only once readline reads again: typed while the answer prints, the terminal's own
        # line discipline would take it, and readline would never see an end of input.
        _read_until(master, "질문> ", seen, times=3)
        os.write(master, b"\x04")  # Ctrl-D ends the chat
        text = _read_until(master, "안녕히 가세요!", seen)
        assert proc.wait(timeout=60) == 0
        # Three prompts: the first, one after the pasted question's single answer, one after the follow-up's.
        assert text.count("질문> ") == 3, text
        assert "답을 못 찾았어요" not in text  # neither half of the paste was asked on its own
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    history = (tmp_path / "cache" / "dockbot" / "chat_history").read_text(encoding="utf-8")
    # Up-arrow brings back what was asked: the paste as one entry, then the follow-up.
    assert "명명된 볼륨이 뭐야?" in history and "그럼 익명인 건?" in history
