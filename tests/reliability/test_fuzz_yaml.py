"""Bad YAML for the knowledge loader and `dockbot validate`: mutated valid files (deleted keys and lines,
wrong types, broken indentation, duplicate keys, truncation, tags), huge files, YAML bombs. Either it loads
or it reports `path:line: message` problems: quickly, never a traceback, never unbounded memory.

The fuzzed files are the repo's real knowledge and demo files; `dockbot validate` runs as a subprocess under
an address-space limit (resource.setrlimit) and a hang guard.
"""

from __future__ import annotations

import os
import re
import resource
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.slack_harness import REPO

KNOWLEDGE = REPO / "knowledge"
# Small real files, so one example costs milliseconds (the big ones go through `dockbot validate` below).
FUZZED = [
    "practices.yaml",
    "images.yaml",
    "bind-mounts.yaml",
    "synonyms.yaml",
    "off-topic.yaml",
    "demos/volumes.yaml",
    "demos/network.yaml",
    "demos/bind-mount.yaml",
]
PROBLEM_LINE = re.compile(r"^(?P<path>[^\n]+?):(?P<line>\d+): (?P<message>.+)$")
MEMORY_LIMIT = 2 * 1024**3  # address space of a `dockbot validate` subprocess
HANG_GUARD_S = 90


MINIMAL_ENTRIES = """\
entries:
  - id: volume-basics
    title: 볼륨
    answer: 볼륨은 컨테이너 밖에 데이터를 둡니다.
    questions: ['볼륨이 뭐야?']
"""


def mutate(text: str, data: st.DataObject) -> tuple[str, str]:
    """One random edit of the kinds an admin (or an attacker) makes; returns (new text, what was done)."""
    lines = text.split("\n")
    kind = data.draw(
        st.sampled_from(
            [
                "delete_line",
                "duplicate_line",
                "indent",
                "dedent",
                "tab",
                "wrong_type",
                "truncate",
                "insert_text",
                "swap_lines",
                "key_typo",
                "alias",
                "tag",
                "flow_garbage",
                "empty_value",
                "several",
            ]
        ),
        label="mutation",
    )
    i = data.draw(st.integers(0, max(len(lines) - 1, 0)), label="line")
    line = lines[i] if lines else ""
    if kind == "delete_line":
        del lines[i]
    elif kind == "duplicate_line":  # a duplicate key when the line is a key
        lines.insert(i, line)
    elif kind == "indent":
        lines[i] = " " * data.draw(st.integers(1, 7)) + line
    elif kind == "dedent":
        lines[i] = line.lstrip()
    elif kind == "tab":
        lines[i] = "\t" + line
    elif kind == "wrong_type":
        key, sep, _ = line.partition(":")
        value = data.draw(
            st.sampled_from(
                [
                    "123",
                    "true",
                    "null",
                    "[1, 2]",
                    "{a: b}",
                    "~",
                    "1.5e309",
                    "''",
                    "2024-01-01",
                    "0x1F",
                    "[[[]]]",
                    "-",
                    "|",
                ]
            )
        )
        lines[i] = f"{key}{sep or ':'} {value}"
    elif kind == "truncate":
        cut = data.draw(st.integers(0, len(text)))
        return text[:cut], kind
    elif kind == "insert_text":
        lines.insert(i, data.draw(st.text(st.characters(blacklist_categories=("Cs",)), max_size=60)))
    elif kind == "swap_lines":
        j = data.draw(st.integers(0, max(len(lines) - 1, 0)))
        if lines:
            lines[i], lines[j] = lines[j], lines[i]
    elif kind == "key_typo":
        lines[i] = re.sub(r"^(\s*-?\s*)(\w+):", lambda m: f"{m.group(1)}{m.group(2)}x:", line)
    elif kind == "alias":
        lines.insert(i, "x: &a [1, 2]\ny: *a")
    elif kind == "tag":
        tag = data.draw(
            st.sampled_from(
                [
                    "!!python/object/apply:os.system ['true']",
                    "!!python/name:os.system",
                    "!!binary aGVsbG8=",
                    "!custom x",
                    "!!set {a, b}",
                    "!!omap [a: 1]",
                    "!!timestamp 2001-12-14",
                    "2001-13-45",
                    "!!int abc",
                ]
            )
        )
        key, _, _ = line.partition(":")
        lines[i] = f"{key or 'k'}: {tag}"
    elif kind == "flow_garbage":
        lines[i] = line + data.draw(
            st.sampled_from(
                ["[", "]", "{", "}", ":", " : :", "'", '"', "#", "&", "*", "%", "@", "`", "---", "...", "? x"]
            )
        )
    elif kind == "empty_value":
        lines[i] = line.split(":", 1)[0] + ":"
    else:
        for _ in range(data.draw(st.integers(2, 6))):
            text, _ = mutate("\n".join(lines), data)
            lines = text.split("\n")
    return "\n".join(lines), kind


def _check_problems(problems, files: dict[str, int]) -> None:
    """Every problem names a file and a line that exists (or line 1 of the directory itself)."""
    assert problems
    for problem in problems:
        text = str(problem)
        assert "\n" not in text and PROBLEM_LINE.match(text), text
        assert isinstance(problem.line, int) and problem.line >= 1, text
        assert problem.message.strip(), text
        known = [name for name in files if problem.path.endswith(name)]
        if known:
            assert problem.line <= files[known[0]] + 1, (text, files[known[0]])


@settings(
    max_examples=500,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(name=st.sampled_from(FUZZED), data=st.data())
def test_mutated_knowledge_loads_or_reports_path_line(tmp_path_factory, figures, name, data):
    from bot.knowledge import KnowledgeError, load_knowledge

    directory = tmp_path_factory.mktemp("kb")
    original = (KNOWLEDGE / name).read_text(encoding="utf-8")
    text, kind = mutate(original, data)
    target = directory / name
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    if name.startswith("demos/") or name in ("synonyms.yaml", "off-topic.yaml"):
        (directory / "volumes.yaml").write_text(MINIMAL_ENTRIES, encoding="utf-8")
    try:
        kb = load_knowledge(directory)
        assert kb.entries
        figures.add("fuzz_yaml", "mutations_loaded")
    except KnowledgeError as exc:
        _check_problems(exc.problems, {name: text.count("\n") + 1, "volumes.yaml": 6})
        figures.add("fuzz_yaml", "mutations_reported")
    figures.add("fuzz_yaml", "mutations")
    figures.add("fuzz_yaml", f"kind_{kind}")
    shutil.rmtree(directory, ignore_errors=True)


ALL_FILES = sorted(str(p.relative_to(KNOWLEDGE)) for p in KNOWLEDGE.rglob("*.yaml"))


@pytest.fixture(scope="module")
def full_copy(tmp_path_factory) -> Path:
    target = tmp_path_factory.mktemp("full") / "knowledge"
    shutil.copytree(KNOWLEDGE, target)
    return target


@pytest.mark.slow
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(ALL_FILES), data=st.data())
def test_mutated_file_in_the_full_knowledge_base(full_copy, figures, name, data):
    """The same mutations in the full knowledge base (any file, kubernetes.yaml too): harmless edits load."""
    from bot.knowledge import KnowledgeError, load_knowledge

    target = full_copy / name
    original = (KNOWLEDGE / name).read_text(encoding="utf-8")
    text, kind = mutate(original, data)
    target.write_text(text, encoding="utf-8")
    try:
        kb = load_knowledge(full_copy)
        assert kb.entries
        figures.add("fuzz_yaml", "mutations_loaded")
    except KnowledgeError as exc:
        _check_problems(exc.problems, {name: text.count("\n") + 1})
        figures.add("fuzz_yaml", "mutations_reported")
    finally:
        target.write_text(original, encoding="utf-8")
    figures.add("fuzz_yaml", "mutations")
    figures.add("fuzz_yaml", f"kind_{kind}")


# ---- `dockbot validate` on hand-made monsters ----------------------------------------------------------

BILLION_LAUGHS = (
    "\n".join(
        ["entries:", '  - &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
        + [f"  - &{chr(98 + i)} [{','.join(['*' + chr(97 + i)] * 9)}]" for i in range(8)]
    )
    + "\n"
)

MONSTERS: dict[str, bytes | None] = {
    "billion_laughs": BILLION_LAUGHS.encode(),
    "over_1mb": b"entries:\n" + b"  - id: x\n" * 120_000,
    "flow_list_990kb": b"entries: [" + b"0," * 495_000 + b"0]\n",
    "deep_nesting_200kb": b"entries: " + b"[" * 100_000 + b"]" * 100_000 + b"\n",
    "deep_block_nesting": b"entries:\n" + b"".join(b" " * i + b"- \n" for i in range(0, 2000, 1)),
    "many_keys_900kb": b"entries:\n  - id: x\n" + b"".join(b"    k%d: %d\n" % (i, i) for i in range(60_000)),
    "long_scalar_900kb": b"entries:\n  - id: x\n    answer: " + b"a" * 900_000 + b"\n",
    "duplicate_keys": b"entries:\n  - id: x\n    id: y\n    title: t\n    title: u\n",
    "tabs": b"entries:\n\t- id: x\n",
    "broken_indent": b"entries:\n  - id: x\n   title: t\n      answer: a\n",
    "not_utf8": b"entries:\n  - id: \xff\xfe\xfa\n",
    "nul_bytes": b"entries:\n  - id: x\x00\x00\n",
    "python_tag": b"entries: !!python/object/apply:os.system ['touch /tmp/dockbot-pwned']\n",
    "merge_key": b"base: &b {id: x}\nentries:\n  - <<: *b\n",
    "empty": b"",
    "only_comment": b"# nothing\n",
    "scalar_top": b"just a string\n",
    "list_top": b"- a\n- b\n",
    "unclosed_quote": b"entries:\n  - id: 'x\n",
    "many_documents": b"---\nentries: []\n---\nentries: []\n",
    "symlink_to_dev_zero": None,  # would never end if read
    "fifo": None,  # would block forever if opened
}


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def run_validate(directory: Path) -> tuple[int, str, float, int]:
    """(exit code, output, seconds, peak RSS in KiB) of `dockbot validate DIR` under the memory limit."""
    env = {**os.environ, "PYTHONIOENCODING": "utf-8", "OPENBLAS_NUM_THREADS": "1"}
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "validate", str(directory)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        cwd=REPO,
        preexec_fn=_limit_memory,
    )
    guard = threading.Timer(HANG_GUARD_S, proc.kill)  # the hang guard
    guard.start()
    try:
        assert proc.stdout is not None
        out = proc.stdout.read()
        # wait4 instead of wait: the child's own resource usage (its peak RSS), not all children's.
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    finally:
        guard.cancel()
        if proc.stdout is not None:
            proc.stdout.close()
    elapsed = time.monotonic() - started
    if elapsed >= HANG_GUARD_S:
        pytest.fail(f"dockbot validate {directory} hung for more than {HANG_GUARD_S} s")
    return proc.returncode, out.decode("utf-8", "replace"), elapsed, usage.ru_maxrss


@pytest.fixture(scope="module")
def knowledge_base_copy(tmp_path_factory) -> Path:
    target = tmp_path_factory.mktemp("validate") / "knowledge"
    shutil.copytree(KNOWLEDGE, target)
    return target


@pytest.mark.slow
@pytest.mark.parametrize("name", list(MONSTERS))
def test_dockbot_validate_survives(knowledge_base_copy, figures, name):
    bad = knowledge_base_copy / f"zz-{name}.yaml"
    content = MONSTERS[name]
    if name == "symlink_to_dev_zero":
        bad.symlink_to("/dev/zero")
    elif name == "fifo":
        os.mkfifo(bad)
    else:
        bad.write_bytes(content)
    try:
        code, out, elapsed, peak_kib = run_validate(knowledge_base_copy)
    finally:
        bad.unlink()
    assert "Traceback" not in out, out[-3000:]
    assert code in (0, 1), (code, out[-3000:])
    problems = [line for line in out.splitlines() if PROBLEM_LINE.match(line) and ".yaml:" in line]
    if content is None:  # not a regular file: never read, so nothing to report and nothing hangs
        assert code == 0, out[-3000:]
    elif name in ("empty", "only_comment"):
        assert code == 1 and any(bad.name in line for line in problems), out[-3000:]
    else:
        assert code == 1, out[-3000:]
        assert any(f"{bad.name}:" in line for line in problems), out[-3000:]
    assert not Path("/tmp/dockbot-pwned").exists()
    figures.add("fuzz_yaml", "validate_monsters")
    figures.most("fuzz_yaml", "validate_slowest_s", round(elapsed, 2))
    figures.most("fuzz_yaml", "validate_peak_rss_mib", round(peak_kib / 1024, 1))
    print(f"{name}: exit {code} in {elapsed:.2f} s; {len(problems)} problem line(s)")
