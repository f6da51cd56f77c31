"""The core's side of every door: one set of command words, the demo-channel rule, one snapshot per answer."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest

from bot.brain import Brain
from bot.chat import chat_loop
from bot.command_words import asks_for_demo_list, asks_for_help
from bot.config import Settings
from bot.live_knowledge import LiveKnowledge

FIXTURE = Path(__file__).parent / "fixtures" / "kb"


@pytest.fixture(autouse=True)
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


def test_help_and_demo_list_words_are_read_alike_whatever_the_spacing_or_case():
    assert all(asks_for_help(word) for word in ("help", " HELP ", "/도움말", "사용법", "?"))
    assert not asks_for_help("볼륨 도움말 좀")  # a question that mentions help is still a question
    assert all(asks_for_demo_list(word) for word in ("", "  ", "list", "LS", "목록", "--list"))
    assert not asks_for_demo_list("volumes")


def test_the_terminal_chat_takes_the_same_help_word_as_slack():
    # "사용법" was a help word in Slack only; the chat asked the matcher with it.
    brain = Brain(settings=Settings(), knowledge=LiveKnowledge.load(FIXTURE))
    out = io.StringIO()
    assert chat_loop(brain, io.StringIO("사용법\n"), out, prompt=False) == 0
    assert "/demo" in out.getvalue() and "/quit" in out.getvalue()


def test_demos_run_only_in_the_configured_channels():
    knowledge = LiveKnowledge.load(FIXTURE)
    anywhere = Brain(settings=Settings(), knowledge=knowledge)
    assert anywhere.demos_allowed_in("C1") and anywhere.demos_allowed_in("")
    limited = Brain(settings=Settings(demo_channels=frozenset({"CDEMO"})), knowledge=knowledge)
    assert limited.demos_allowed_in("CDEMO") and not limited.demos_allowed_in("C1")


def test_an_answer_uses_the_snapshot_its_door_renders_with_even_across_a_reload(tmp_path: Path):
    directory = tmp_path / "kb"
    shutil.copytree(FIXTURE, directory)
    knowledge = LiveKnowledge.load(directory)
    brain = Brain(settings=Settings(), knowledge=knowledge)
    before = brain.snapshot()
    path = directory / "kubernetes.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("포드 (Pod)", "파드 (Pod)"), encoding="utf-8")
    assert knowledge.reload().changed
    old = brain.ask("포드가 뭐야?", snapshot=before)
    new = brain.ask("포드가 뭐야?")
    assert old.match is not None and new.match is not None
    assert old.match.entry.title == "포드 (Pod)" and before.kb.get("k8s-pod").title == "포드 (Pod)"
    assert new.match.entry.title == "파드 (Pod)" and brain.snapshot().kb.get("k8s-pod").title == "파드 (Pod)"
