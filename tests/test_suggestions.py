"""Suggested examples (bot/suggestions.py) on a real SQLite store and a copy of the knowledge base: made from
use (a pick after suggestions, an answer found after a 👎), never learned unapproved, approved into the YAML
with its comments and layout kept, validated, reloaded and then answering; rejected ones leave no trace.
Also the CLI door (`dockbot stats --suggest`, `--approve`, `--reject`) and `stats --json` on an empty DB."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.brain import Brain
from bot.config import Settings
from bot.live_knowledge import LiveKnowledge
from bot.store import Store
from bot.suggestions import append_example

REPO = Path(__file__).resolve().parent.parent
QUESTION = "볼륨 통째로 다른 서버로 옮기는 법"


@pytest.fixture(autouse=True)
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


@pytest.fixture
def brain(knowledge_copy: Path, tmp_path: Path):
    store = Store.open(tmp_path / "dockbot.db")
    settings = Settings(knowledge_dir=knowledge_copy, admins=frozenset({"UADMIN01"}))
    yield Brain(settings=settings, knowledge=LiveKnowledge.load(knowledge_copy), store=store)
    store.close()


def answered(answer) -> str | None:
    return answer.match.entry.id if answer.outcome == "answered" and answer.match else None


def test_a_pick_after_suggestions_becomes_a_pending_example_only(brain: Brain) -> None:
    brain.conversations.hold("c1", QUESTION, reason="picked")  # the bot offered suggestions for it
    brain.picked("volume-named", conversation="c1")
    (pending,) = brain.pending_examples()
    assert (pending.entry_id, pending.question, pending.reason) == ("volume-named", QUESTION, "picked")
    # Nothing is learned before an admin decides: the example is not in the knowledge base.
    assert QUESTION not in brain.knowledge.current.kb.get("volume-named").questions
    brain.picked("volume-named", conversation="c1")  # a second press suggests nothing new
    assert len(brain.pending_examples()) == 1


def test_an_answer_found_after_a_downvote_is_suggested(brain: Brain) -> None:
    first = brain.ask("명명된 볼륨이 뭐야?", user="U1", channel="C1", conversation="c2")
    assert answered(first) == "volume-named"
    brain.vote(user="U1", entry_id="volume-named", value=-1, message="C1:1.1", conversation="c2")
    assert brain.conversations.topic("c2").pending_reason == "after_downvote"
    then = brain.ask("그럼 익명인 건?", user="U1", channel="C1", conversation="c2")
    assert answered(then) == "volume-anonymous"
    (pending,) = brain.pending_examples()
    assert (pending.entry_id, pending.question, pending.reason) == (
        "volume-anonymous",
        "명명된 볼륨이 뭐야?",
        "after_downvote",
    )


def test_approve_appends_to_the_yaml_keeping_the_file_and_answers_after_reload(
    brain: Brain, knowledge_copy: Path
) -> None:
    path = knowledge_copy / "volumes.yaml"
    before = path.read_text(encoding="utf-8")
    brain.store.suggest_example(entry_id="volume-named", question=QUESTION, reason="picked")
    (pending,) = brain.pending_examples()
    decision = brain.decide_example(pending.id, approve=True, admin="UADMIN01")
    assert decision.ok, decision.message
    after = path.read_text(encoding="utf-8")
    # Exactly one line added, everything else (comments, quoting, layout) byte for byte the same.
    added = [line for line in after.splitlines() if line not in before.splitlines()]
    assert added == [f"      - {QUESTION}"]
    assert after.replace(f"      - {QUESTION}\n", "", 1) == before
    assert after.startswith("# knowledge/volumes.yaml")
    assert brain.pending_examples() == []
    assert QUESTION in brain.knowledge.current.kb.get("volume-named").questions  # reloaded
    assert answered(brain.ask(QUESTION)) == "volume-named"
    again = brain.decide_example(pending.id, approve=True, admin="UADMIN01")
    assert not again.ok and after == path.read_text(encoding="utf-8")  # decided once


def test_reject_leaves_the_yaml_alone(brain: Brain, knowledge_copy: Path) -> None:
    snapshot = {p.name: p.read_text(encoding="utf-8") for p in knowledge_copy.glob("*.yaml")}
    brain.store.suggest_example(entry_id="volume-named", question=QUESTION, reason="after_downvote")
    (pending,) = brain.pending_examples()
    assert brain.decide_example(pending.id, approve=False, admin="UADMIN01").ok
    assert brain.pending_examples() == []
    assert snapshot == {p.name: p.read_text(encoding="utf-8") for p in knowledge_copy.glob("*.yaml")}


def test_an_example_that_would_break_the_knowledge_base_is_undone(brain: Brain, knowledge_copy: Path) -> None:
    taken = brain.knowledge.current.kb.get("volume-anonymous").questions[0]  # another entry's example
    before = (knowledge_copy / "volumes.yaml").read_text(encoding="utf-8")
    brain.store.suggest_example(entry_id="volume-named", question=taken, reason="picked")
    (pending,) = brain.pending_examples()
    decision = brain.decide_example(pending.id, approve=True, admin="UADMIN01")
    assert not decision.ok and "되돌렸어요" in decision.message
    assert (knowledge_copy / "volumes.yaml").read_text(encoding="utf-8") == before
    assert len(brain.pending_examples()) == 1  # still waiting: the admin can reject it


def test_append_to_an_entry_that_is_gone(knowledge_copy: Path) -> None:
    from bot.suggestions import ExampleWriteError

    with pytest.raises(ExampleWriteError, match="없어요"):
        append_example(knowledge_copy, "no-such-entry", QUESTION)


# ---- the CLI door ----------------------------------------------------------------------------------------


def dockbot(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args], capture_output=True, text=True, cwd=REPO, env=env, timeout=120
    )


def cli_env(tmp_path: Path, knowledge: Path, db: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DOCKBOT_"))}
    env.update(DOCKBOT_DB=str(db), DOCKBOT_KNOWLEDGE_DIR=str(knowledge), XDG_CACHE_HOME=str(tmp_path / "c"))
    return env


def test_stats_suggest_lists_and_approve_reject_decide(tmp_path: Path, knowledge_copy: Path) -> None:
    db = tmp_path / "cli.db"
    store = Store.open(db)
    store.suggest_example(entry_id="volume-named", question=QUESTION, reason="picked")
    store.suggest_example(entry_id="volume-cleanup", question="볼륨 싹 다 지우기", reason="after_downvote")
    store.close()
    env = cli_env(tmp_path, knowledge_copy, db)
    listed = dockbot("stats", "--suggest", env=env)
    assert listed.returncode == 0, listed.stderr
    assert "예시 질문 제안" in listed.stdout and QUESTION in listed.stdout
    report = json.loads(dockbot("stats", "--suggest", "--json", env=env).stdout)
    ids = {x["question"]: x["id"] for x in report["examples"]}
    approved = dockbot("stats", "--approve", str(ids[QUESTION]), env=env)
    assert approved.returncode == 0, approved.stderr
    assert QUESTION in (knowledge_copy / "volumes.yaml").read_text(encoding="utf-8")
    assert dockbot("stats", "--reject", str(ids["볼륨 싹 다 지우기"]), env=env).returncode == 0
    assert "볼륨 싹 다 지우기" not in (knowledge_copy / "volumes.yaml").read_text(encoding="utf-8")
    assert json.loads(dockbot("stats", "--suggest", "--json", env=env).stdout)["examples"] == []
    unknown = dockbot("stats", "--approve", "999", env=env)
    assert unknown.returncode == 1 and "Traceback" not in unknown.stderr


@pytest.mark.parametrize("created", [False, True])
def test_stats_json_on_an_empty_database_is_an_empty_report(tmp_path: Path, created: bool) -> None:
    db = tmp_path / "empty.db"
    if created:
        Store.open(db).close()
    done = dockbot("stats", "--json", env=cli_env(tmp_path, REPO / "knowledge", db))
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["total_questions"] == 0 and report["groups"] == [] and report["feedback"] == []
    assert report["outcomes"] == {"answered": 0, "suggested": 0, "no_answer": 0, "invalid": 0}
    assert "Traceback" not in done.stderr
    assert db.exists() == created  # reading an absent database creates nothing
