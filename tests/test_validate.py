"""`dockbot validate [DIR]` (bot/commands/validate.py): exit 0/1, every problem as path:line, no traceback."""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot.commands.validate import run_validate, self_check, validate_directory
from bot.knowledge import load_knowledge

FIXTURE = Path(__file__).parent / "fixtures" / "kb"
PROBLEM = re.compile(r"^\S+:\d+: .+$")


@pytest.fixture(autouse=True)
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


def run(directory: Path) -> tuple[int, list[str]]:
    out = io.StringIO()
    code = run_validate(str(directory), stdout=out)
    return code, out.getvalue().splitlines()


def test_the_repository_knowledge_base_is_valid(knowledge_copy: Path):
    code, lines = run(knowledge_copy)
    assert code == 0, "\n".join(lines)
    assert lines[-1].endswith("OK")


def test_fixture_entries_answer_their_own_questions():
    assert self_check(load_knowledge(FIXTURE)) == []


def test_broken_copy_lists_every_problem_with_path_and_line(knowledge_copy: Path):
    first = sorted(
        p for p in knowledge_copy.glob("*.yaml") if p.name not in ("synonyms.yaml", "off-topic.yaml")
    )[0]
    text = first.read_text(encoding="utf-8")
    parts = text.split("\n  - id: ")  # parts[1] is the first entry: break its title; the second's related
    assert len(parts) >= 3
    parts[1] = parts[1].replace("    title:", "    titel:", 1)
    parts[2] = parts[2].replace("    related: [", "    related: [no-such-entry, ", 1)
    text = "\n  - id: ".join(parts)
    assert "no-such-entry" in text
    first.write_text(text, encoding="utf-8")
    code, lines = run(knowledge_copy)
    assert code == 1
    problems = lines[:-1]
    assert problems and all(PROBLEM.match(line) for line in problems), lines
    assert any("related id 'no-such-entry' does not exist" in line for line in problems)
    assert any("unknown field 'titel'" in line for line in problems)
    assert any("missing field 'title'" in line for line in problems)
    assert "problem" in lines[-1]


def test_example_question_answered_by_another_entry_is_reported(tmp_path: Path):
    kb = tmp_path / "kb"
    shutil.copytree(FIXTURE, kb)
    path = kb / "networks.yaml"
    # Filed under networks, but it says exactly what the pod entry's "포드가 뭐야?" says.
    text = path.read_text(encoding="utf-8").replace("      - 새 네트워크 생성", "      - 포드는 뭔데")
    path.write_text(text, encoding="utf-8")
    problems, _ = validate_directory(kb)
    line = next(i for i, s in enumerate(text.splitlines(), 1) if "포드는 뭔데" in s)
    assert any(
        p.line == line and "not 'network-create'" in p.message and "k8s-pod" in p.message for p in problems
    )


def test_uncovered_question_that_nearly_repeats_an_example_is_reported_at_its_line(tmp_path: Path):
    kb = tmp_path / "kb"
    shutil.copytree(FIXTURE, kb)
    # Not the exact text (loading rejects that), but the same words as k8s-pod's "파드 하나에 컨테이너 여러
    # 개 넣어도 돼?" with another ending; the helm question is covered by no entry and must pass.
    text = (
        "topics:\n"
        "  helm:\n"
        "    - 헬름 차트가 뭐예요?\n"
        "  sidecars:\n"
        "    - 파드 하나에 컨테이너 여러 개 넣어도 되나요\n"
    )
    (kb / "uncovered.yaml").write_text(text, encoding="utf-8")
    problems, summary = validate_directory(kb)
    found = [p for p in problems if "nearly repeats" in p.message]
    assert [(p.path.endswith("uncovered.yaml"), p.line) for p in found] == [(True, 5)]
    assert "'k8s-pod'" in found[0].message and "kubernetes.yaml:12" in found[0].message
    assert "problem" in summary


def test_yaml_syntax_error_via_the_real_command(tmp_path: Path):
    kb = tmp_path / "kb"
    shutil.copytree(FIXTURE, kb)
    (kb / "kubernetes.yaml").write_text(
        'entries:\n  - id: k8s-pod\n    title: "unterminated\n', encoding="utf-8"
    )
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    done = subprocess.run(
        [sys.executable, "-m", "bot", "validate", str(kb)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stdout + done.stderr
    assert any(PROBLEM.match(line) and "kubernetes.yaml:" in line for line in done.stdout.splitlines())


def test_missing_directory_exits_1(tmp_path: Path):
    code, lines = run(tmp_path / "absent")
    assert code == 1 and "does not exist" in lines[0]
