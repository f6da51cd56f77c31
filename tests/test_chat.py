"""The terminal chat (bot/chat.py): questions, help, /demo list and /demo NAME through brain.demos.

The demo service here is a stand-in above the runner (its own tests use the real engine): it replays a
DemoRun step by step through on_progress, exactly as the DemoService contract says.
"""

from __future__ import annotations

import io
from concurrent.futures import Future
from pathlib import Path
from types import SimpleNamespace

import pytest

from bot.brain import Brain
from bot.chat import chat_loop
from bot.config import Settings
from bot.live_knowledge import LiveKnowledge

FIXTURE = Path(__file__).parent / "fixtures" / "kb"


@pytest.fixture(autouse=True)
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


class ReplayDemos:
    """DemoService contract: scenarios(), submit(name, user=, channel=, on_progress=) -> Future[DemoRun]."""

    def __init__(self) -> None:
        from bot.demos.result import DemoRun, StepResult

        self.submitted: list[tuple[str, str]] = []
        self._run_type, self._step_type = DemoRun, StepResult

    def scenarios(self) -> list[SimpleNamespace]:
        return [
            SimpleNamespace(
                name="volumes", title="명명된 볼륨 vs 익명 볼륨", entry="volume-named", steps=(1, 2)
            )
        ]

    def submit(self, name, *, user="", channel="", on_progress=None):
        from bot.demos.errors import UnknownDemo

        if name != "volumes":
            raise UnknownDemo(name, ["volumes"])
        self.submitted.append((name, user))
        run = self._run_type(demo="volumes", title="명명된 볼륨 vs 익명 볼륨", total_steps=2, run_id="r1")
        for i in (1, 2):
            run.steps.append(
                self._step_type(title=f"단계{i}", command=f"docker volume create demo{i}", output="ok")
            )
            if on_progress:
                on_progress(run)
        run.ok, run.finished, run.conclusion = True, True, "명명된 볼륨은 남아요"
        if on_progress:
            on_progress(run)
        future: Future = Future()
        future.set_result(run)
        return future


def chat(lines: list[str], demos=None) -> str:
    brain = Brain(settings=Settings(), knowledge=LiveKnowledge.load(FIXTURE), demos=demos)
    out = io.StringIO()
    assert chat_loop(brain, io.StringIO("\n".join(lines) + "\n"), out, prompt=False) == 0
    return out.getvalue()


def test_questions_get_answers_and_off_topic_an_honest_no():
    out = chat(["명명된 볼륨이 뭐야?", "오늘 점심 뭐 먹을까?", "🙂", "/quit", "포드가 뭐야?"])
    assert "명명된 볼륨 (named volume)" in out
    assert "답을 못 찾았어요" in out
    assert "질문을 글로 적어 주세요" in out
    assert "포드 (Pod)" not in out  # nothing after /quit is read
    assert out.rstrip().endswith("안녕히 가세요!")


def test_an_answer_links_its_sources_and_lists_related_entries_by_title_to_open_by_number():
    out = chat(["명명된 볼륨이 뭐야?", "1", "9"])
    first, header, rest = out.partition("[익명 볼륨 (anonymous volume)]")
    assert header, out  # typing "1" opened the first listed entry
    assert "자세히 보기:\n  - https://docs.docker.com/engine/storage/volumes/" in first
    assert "관련 주제 (번호를 입력하면 바로 볼 수 있어요):\n  1. 익명 볼륨 (anonymous volume)" in first
    assert "volume-anonymous" not in out  # related entries by title, never by id
    opened, _, last = rest.partition("죄송해요")
    assert "`-v /app/data`처럼 경로만 주면 익명 볼륨이에요" in opened
    assert "1. 명명된 볼륨 (named volume)" in opened  # the opened entry offers its own related entries
    assert "자세히 보기" not in opened  # this fixture entry has no sources
    # "9" is not on the list: it is asked as a question like any other text (and gets the honest no).
    assert "답을 못 찾았어요" in last


def test_help_mentions_demo_commands():
    out = chat(["/help"])
    assert "/demo list" in out and "/demo 이름" in out


def test_demos_unavailable_is_said_plainly():
    out = chat(["/demo list", "/demo volumes", "/help"])
    assert out.count("지금은 데모를 쓸 수 없어요") == 3


def test_demo_list_and_run_through_the_demo_service():
    demos = ReplayDemos()
    out = chat(["/demo list", "/demo volumes", "/demo rm-rf"], demos=demos)
    assert "volumes" in out.split("\n")[1]
    assert demos.submitted == [("volumes", "terminal")]
    assert "docker volume create demo1" in out and "docker volume create demo2" in out
    assert "명명된 볼륨은 남아요" in out
    assert "그런 데모는 없습니다" in out


def test_end_of_input_ends_the_chat():
    brain = Brain(settings=Settings(), knowledge=LiveKnowledge.load(FIXTURE))
    out = io.StringIO()
    assert chat_loop(brain, io.StringIO(""), out, prompt=False) == 0
