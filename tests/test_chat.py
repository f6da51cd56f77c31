"""The terminal chat (bot/chat.py): questions, help, /demo list and /demo NAME through brain.demos.

The demo service here is a stand-in above the runner (its own tests use the real engine): it replays a
DemoRun step by step through on_progress, exactly as the DemoService contract says.
"""

from __future__ import annotations

import io
import re
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
    listing = out.split("\n")[1:4]
    assert any("volumes" in line and "명명된 볼륨 vs 익명 볼륨" in line for line in listing), (
        listing
    )  # described
    assert "/demo volumes" in out.split("\n")[3]  # how to run one here, not the CLI's command
    assert demos.submitted == [("volumes", "terminal")]
    assert "그런 데모는 없습니다" in out


def test_a_demo_is_shown_once_progress_then_the_summary():
    out = chat(["/demo volumes"], demos=ReplayDemos())
    # Each step once, as it finished, then the verdict once: not the whole run again at the end.
    assert out.count("$ docker volume create demo1") == 1 and out.count("$ docker volume create demo2") == 1
    assert out.count("데모 volumes: 명명된 볼륨 vs 익명 볼륨") == 1
    assert out.count("결론: 명명된 볼륨은 남아요") == 1
    assert out.index("[1/2]") < out.index("[2/2]") < out.index("결론:")


def test_unknown_commands_are_told_as_such_and_paths_are_questions():
    out = chat(["/dmeo list", "/help", "/var/lib/docker 가 너무 커요"])
    assert "'/dmeo' 은(는) 모르는 명령이에요" in out and "/help" in out
    after_help = out.split("이 도움말")[1]
    assert "모르는 명령" not in after_help  # a path at the start is a question, not a command


def test_terminal_answers_are_text_without_slack_markup():
    knowledge = LiveKnowledge.load(Path(__file__).resolve().parent.parent / "knowledge")
    kb = knowledge.current.kb
    marked = [e for e in kb.entries if "*" in e.answer.replace("`", "")]
    assert marked, "the knowledge has *emphasis* somewhere"
    brain = Brain(settings=Settings(), knowledge=knowledge)
    out = io.StringIO()
    chat_loop(brain, io.StringIO("\n".join(e.title for e in marked[:5]) + "\n"), out, prompt=False)
    text = out.getvalue()
    outside_code = "".join(text.split("`")[::2])
    assert re.search(r"(?<![\w*])\*[^*\s][^*\n]*\*", outside_code) is None, "raw *bold* reached the terminal"
    assert re.search(r"<(https?://|#C|@U|!)[^>]*>", text) is None


def test_end_of_input_ends_the_chat():
    brain = Brain(settings=Settings(), knowledge=LiveKnowledge.load(FIXTURE))
    out = io.StringIO()
    assert chat_loop(brain, io.StringIO(""), out, prompt=False) == 0


def test_plain_text_of_slack_mrkdwn():
    from bot.terminal_text import plain_text

    assert plain_text("*한 호스트*에서 *서비스 이름으로* 접속") == "한 호스트에서 서비스 이름으로 접속"
    assert plain_text("<https://docs.docker.com/compose/|Compose 문서> 참고") == (
        "Compose 문서 (https://docs.docker.com/compose/) 참고"
    )
    assert plain_text("<#C0123|ops> 채널의 <@U042>, <!here>") == "#ops 채널의 @U042, @here"
    # Code spans and ordinary text are left exactly as written.
    for text in ("`<프로젝트>_default` 네트워크", "`rm *.log`", "snake_case_name", "2*3*4", "a * b"):
        assert plain_text(text) == text
