"""Follow-ups as users phrase them, table-driven, through the Brain on the real knowledge base.

The table was written before the follow-up reading was tuned against it: each row is a first question, a
follow-up in one of the many ways people say it, and the entry the follow-up is about. Rows whose follow-up
names a topic of its own ("네트워크는 뭐야?") must be answered exactly as that question alone would be.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.brain import Brain
from bot.config import Settings
from bot.live_knowledge import LiveKnowledge

KNOWLEDGE = Path(__file__).resolve().parent.parent / "knowledge"

NAMED = "명명된 볼륨이 뭐야?"
# Known misses: a bare platform word after an entry whose head word ("볼륨", "컨테이너") is that platform's
# general topic too; the context reading lands on the platform's basics (compose-basics, k8s-container).
PLATFORM = "a platform shift whose head word is the platform's general topic"

# (first question, follow-up, entry the follow-up is about)
FOLLOW_UPS = [
    # the hidden bar and other ways of asking for "the other kind"
    (NAMED, "그럼 익명인 건?", "volume-anonymous"),
    (NAMED, "익명은?", "volume-anonymous"),
    (NAMED, "그럼 익명 볼륨은요?", "volume-anonymous"),
    (NAMED, "익명인 경우는?", "volume-anonymous"),
    ("익명 볼륨이 뭐야?", "그럼 명명된 건?", "volume-named"),
    ("익명 볼륨이 뭐야?", "이름 붙인 건?", "volume-named"),
    # removing the thing the thread is about
    (NAMED, "그건 어떻게 지워?", "volume-cleanup"),
    (NAMED, "지우려면?", "volume-cleanup"),
    (NAMED, "그거 삭제는 어떻게 해요?", "volume-cleanup"),
    ("익명 볼륨이 뭐야?", "지우려면 어떻게 해?", "volume-cleanup"),
    # the same entry again, for its example or commands
    (NAMED, "예시 좀", "volume-named"),
    (NAMED, "명령어는?", "volume-named"),
    ("포드가 뭐야?", "예시 보여줘", "k8s-pod"),
    ("멀티 스테이지 빌드가 뭐야?", "예제 있어?", "multi-stage-build"),
    ("컨테이너끼리 이름으로 통신하려면?", "명령어 좀 알려줘", "network-container-communication"),
    # the same thing on another platform
    (NAMED, "쿠버네티스에서는?", "k8s-persistent-volume"),
    (NAMED, "k8s에선?", "k8s-persistent-volume"),
    pytest.param(
        NAMED, "compose로는?", "compose-file", marks=pytest.mark.xfail(strict=True, reason=PLATFORM)
    ),
    ("컨테이너란?", "쿠버네티스에서는?", "k8s-container"),
    pytest.param(
        "컨테이너 메모리 제한은 어떻게 걸어?",
        "쿠버네티스에서는?",
        "k8s-resources",
        marks=pytest.mark.xfail(strict=True, reason=PLATFORM),
    ),
    ("헬스체크는 어떻게 설정해?", "k8s에서는?", "k8s-probes"),
    ("환경 변수는 어떻게 넘겨?", "쿠버네티스에선 어떻게 해?", "k8s-configmap-secret"),
    # a sibling of the thread's topic named by its short name
    ("bridge 네트워크가 뭐야?", "그럼 host는?", "network-driver-host"),
    ("bridge 네트워크가 뭐야?", "오버레이는?", "network-driver-overlay"),
    ("파드가 뭐야?", "그럼 디플로이먼트는?", "k8s-deployment"),
    ("도커 컴포즈가 뭐야?", "리눅스에 설치하려면?", "compose-install-linux"),
]

# A follow-up naming a new topic of its own is answered on its own (None: what that question alone gets).
NEW_TOPICS = [
    (NAMED, "네트워크는 뭐야?", None),
    (NAMED, "쿠버네티스가 뭐야?", "k8s-basics"),
    (NAMED, "그럼 바인드 마운트는?", "bind-mount"),
    (NAMED, "도커 컴포즈란?", "compose-basics"),
    ("포드가 뭐야?", "이미지란?", "image-basics"),
    ("컨테이너란?", "CMD랑 ENTRYPOINT 차이가 뭐야?", "dockerfile-cmd-vs-entrypoint"),
]


@pytest.fixture(scope="module")
def knowledge() -> LiveKnowledge:
    return LiveKnowledge.load(KNOWLEDGE)


def answered(answer) -> str | None:
    return answer.match.entry.id if answer.outcome == "answered" and answer.match else None


@pytest.mark.parametrize(("first", "follow_up", "expected"), FOLLOW_UPS + NEW_TOPICS)
def test_follow_up(knowledge: LiveKnowledge, first: str, follow_up: str, expected: str | None) -> None:
    brain = Brain(settings=Settings(), knowledge=knowledge)
    assert answered(brain.ask(first, conversation="thread")) is not None, first
    got = answered(brain.ask(follow_up, conversation="thread"))
    alone = answered(brain.ask(follow_up))
    if expected is None:  # a new topic: the same answer as asked on its own, and not the thread's
        assert alone is not None and got == alone, (got, alone)
        assert not got.startswith("volume"), got
    else:
        assert got == expected, (got, alone)


def test_the_table_is_about_follow_ups_not_lookups(knowledge: LiveKnowledge) -> None:
    """Most follow-ups cannot be answered right without their thread: the table tests the context."""
    brain = Brain(settings=Settings(), knowledge=knowledge)
    rows = [p.values if hasattr(p, "values") else p for p in FOLLOW_UPS]
    wrong_alone = [f for _, f, e in rows if answered(brain.ask(f)) != e]
    assert len(wrong_alone) >= len(rows) * 2 // 3, wrong_alone
