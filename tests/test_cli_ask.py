"""`dockbot ask` as a real process: text, --json, and --json - over stdin (bot/commands/ask.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

FIXTURE = Path(__file__).parent / "fixtures" / "kb"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    out = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
    out.update(DOCKBOT_KNOWLEDGE_DIR=str(FIXTURE), XDG_CACHE_HOME=str(tmp_path / "cache"), PYTHONUTF8="1")
    return out


def dockbot(env: dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args], input=stdin, capture_output=True, text=True, env=env, timeout=60
    )


def test_ask_prints_the_answer_text(env: dict[str, str]):
    done = dockbot(env, "ask", "명명된 볼륨이 뭐야?")
    assert done.returncode == 0, done.stderr
    assert "명명된 볼륨 (named volume)" in done.stdout
    assert "docker run -v data:/app/data myimage" in done.stdout
    assert "Traceback" not in done.stderr


def test_ask_json_has_exactly_the_contract_keys(env: dict[str, str]):
    done = dockbot(env, "ask", "--json", "익명 볼륨이 뭔가요?")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert set(data) == {"question", "outcome", "match", "alternatives"}
    assert data["outcome"] == "answered"
    assert data["question"] == "익명 볼륨이 뭔가요?"
    assert set(data["match"]) == {"id", "title", "score"} and data["match"]["id"] == "volume-anonymous"
    assert isinstance(data["match"]["score"], float)
    for alt in data["alternatives"]:
        assert set(alt) == {"id", "title", "score"} and alt["id"] != "volume-anonymous"


def test_ask_json_stdin_one_line_out_per_line_in_order(env: dict[str, str]):
    lines = ["포드가 뭐야?", "", "오늘 점심 뭐 먹을까?", "🙂", "docker network create 사용법", "a" * 100_000]
    done = dockbot(env, "ask", "--json", "-", stdin="\n".join(lines) + "\n")
    assert done.returncode == 0, done.stderr
    out = [json.loads(line) for line in done.stdout.splitlines()]
    assert [o["question"] for o in out] == lines
    assert out[0]["match"]["id"] == "k8s-pod"
    assert out[1]["match"] is None and out[1]["alternatives"] == []
    assert out[2]["match"] is None
    assert out[3]["match"] is None
    assert out[4]["match"]["id"] == "network-create"
    assert out[5]["match"] is None


def test_ask_never_echoes_a_ping_in_text_mode(env: dict[str, str]):
    done = dockbot(env, "ask", "<!channel>")
    assert done.returncode == 0
    assert "<!channel>" not in done.stdout and "질문" in done.stdout


def test_ask_with_broken_knowledge_explains_without_traceback(env: dict[str, str], tmp_path: Path):
    broken = tmp_path / "kb"
    broken.mkdir()
    (broken / "volumes.yaml").write_text("entries:\n  - id: x\n    title: [oops\n", encoding="utf-8")
    env["DOCKBOT_KNOWLEDGE_DIR"] = str(broken)
    done = dockbot(env, "ask", "볼륨")
    assert done.returncode == 1
    assert "volumes.yaml:" in done.stderr and "Traceback" not in done.stderr


def test_second_start_uses_the_snapshot_cache(env: dict[str, str], tmp_path: Path):
    assert dockbot(env, "ask", "--json", "포드").returncode == 0
    # A one-shot ask on an empty cache answers with provisional thresholds and a detached process
    # writes the fully fitted snapshot (bot/snapshot_cache.py warm_in_background).
    import time

    deadline = time.monotonic() + 60
    cached = list((tmp_path / "cache" / "dockbot").glob("model-*.json"))
    while not cached and time.monotonic() < deadline:
        time.sleep(0.1)
        cached = list((tmp_path / "cache" / "dockbot").glob("model-*.json"))
    assert len(cached) == 1
    again = dockbot(env, "ask", "--json", "포드")
    assert json.loads(again.stdout)["match"]["id"] == "k8s-pod"


def test_ask_takes_unquoted_words_and_json_tells_no_answer_from_bad_input(env: dict[str, str]):
    done = dockbot(env, "ask", "--json", "익명", "볼륨이", "뭔가요?")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["question"] == "익명 볼륨이 뭔가요?" and data["match"]["id"] == "volume-anonymous"
    outcomes = [
        json.loads(line)["outcome"]
        for line in dockbot(
            env, "ask", "--json", "-", stdin="오늘 점심 뭐 먹지\n\u0007\n"
        ).stdout.splitlines()
    ]
    assert outcomes[0] in {"no_answer", "suggested"} and outcomes[1] == "invalid"


@pytest.mark.parametrize(
    "args", [(), ("stats",), ("ask", "볼륨"), ("chat",), ("demo", "--list"), ("gc",), ("validate",)]
)
def test_a_malformed_setting_is_one_line_and_exit_2_from_every_command(env: dict[str, str], args):
    done = dockbot({**env, "DOCKBOT_MAX_DEMOS": "abc"}, *args)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "DOCKBOT_MAX_DEMOS" in lines[0], done.stderr


@pytest.mark.parametrize("args", [("stats",), ("demo", "volumes"), ("gc",), ("ask", "볼륨"), ("chat",)])
def test_a_database_in_a_missing_directory_is_one_line_and_exit_2(env: dict[str, str], tmp_path: Path, args):
    missing = tmp_path / "no-such-dir"
    done = dockbot({**env, "DOCKBOT_DB": str(missing / "dockbot.db")}, *args)
    assert done.returncode == 2, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "DOCKBOT_DB" in lines[0] and str(missing) in lines[0], done.stderr
    assert not missing.exists()  # nothing is created on a guess


def test_version_and_exit_codes_in_help(env: dict[str, str]):
    done = dockbot(env, "--version")
    assert done.returncode == 0 and done.stdout.startswith("dockbot ")
    shown = dockbot(env, "--help").stdout
    assert "exit codes:" in shown and "130" in shown and "3 " in shown
