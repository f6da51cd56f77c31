"""Scenario files: the repo's demos load, and broken or sandbox-loosening YAML is refused with path:line."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from bot.demos.operations import OPERATIONS, Run
from bot.demos.scenario import is_plain_name, load_scenarios

REPO_DEMOS = Path(__file__).resolve().parent.parent / "knowledge" / "demos"
REQUIRED = {
    "volumes": "volume-named-vs-anonymous",
    "bind-mount": "bind-mount",
    "stateless": "container-stateless",
    "network": "network-container-communication",
    "path-precedence": "volume-path-precedence",
    "anonymous-pileup": "volume-anonymous",
}

HEADER = """\
name: sample
title: 샘플
entry: volume-named
explanation: 설명
conclusion: 결론
steps:
"""


def write(tmp_path: Path, steps: str, header: str = HEADER) -> Path:
    path = tmp_path / "sample.yaml"
    path.write_text(header + textwrap.indent(textwrap.dedent(steps), "  "), encoding="utf-8")
    return path


def problems_of(tmp_path: Path, steps: str) -> list[str]:
    write(tmp_path, steps)
    scenarios, problems = load_scenarios(tmp_path)
    assert not scenarios, "a file with problems must not yield a scenario"
    return [str(problem) for problem in problems]


def test_repo_demos_load_and_link_their_entries():
    scenarios, problems = load_scenarios(REPO_DEMOS)
    assert [str(p) for p in problems] == []
    for name, entry in REQUIRED.items():
        assert scenarios[name].entry == entry
        assert scenarios[name].conclusion and scenarios[name].explanation
        # Every step shows a docker CLI (or host shell) command with friendly names, never a run prefix.
        for step in scenarios[name].steps:
            command = step.command("busybox:1.36")
            assert "dockbot-" not in command
            assert command.startswith(("docker ", "echo ", "cat "))


def test_a_valid_file_parses_into_operations(tmp_path):
    write(
        tmp_path,
        """\
        - op: create_volume
          title: 볼륨
          volume: data
        - op: run
          title: 실행
          argv: [sh, -c, "echo hi > /data/x"]
          mounts:
            - {type: volume, source: data, target: /data}
            - {type: anonymous, target: /anon}
          expect: {exit_code: 0, contains: hi}
        """,
    )
    scenarios, problems = load_scenarios(tmp_path)
    assert problems == []
    run = scenarios["sample"].steps[1]
    assert isinstance(run, Run)
    assert run.expect is not None and run.expect.contains == ("hi",)
    assert (
        run.command("img") == "docker run --network none -v data:/data -v /anon img sh -c 'echo hi > /data/x'"
    )


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("privileged", "true"),
        ("cap_add", "[SYS_ADMIN]"),
        ("devices", "['/dev/sda:/dev/sda']"),
        ("network_mode", "host"),
        ("volumes", "['/:/host']"),
        ("security_opt", "[seccomp=unconfined]"),
        ("pid_mode", "host"),
    ],
)
def test_sandbox_loosening_keys_are_refused_by_name_with_their_line(tmp_path, key, value):
    found = problems_of(
        tmp_path,
        f"""\
        - op: run
          title: 실행
          argv: [id]
          {key}: {value}
        """,
    )
    assert len(found) == 1
    assert found[0].startswith(f"{tmp_path / 'sample.yaml'}:10: ") or found[0].split(":")[1] == "10"
    assert f"unknown field '{key}'" in found[0]
    assert "refused" in found[0] and "privileged" in found[0]


def test_host_path_mounts_and_host_networks_are_refused(tmp_path):
    found = problems_of(
        tmp_path,
        """\
        - op: run
          title: 호스트 경로
          argv: [ls]
          mounts:
            - {type: bind, source: /etc, target: /host}
        - op: run
          title: 호스트 네트워크
          argv: [ls]
          network: host
        - op: create_network
          title: 기본 bridge
          network: bridge
        """,
    )
    text = "\n".join(found)
    assert ":11: step 1 (run): mounts: mount 1: type must be volume, anonymous or tempdir" in text
    assert "host paths are never mounted" in text
    assert ":11: step 1 (run): mounts: mount 1: source must be a short name" in text  # not a host path
    assert ":18: step 3 (create_network): network 'bridge' is Docker's own network" in text


def test_a_network_that_no_step_creates_is_refused(tmp_path):
    found = problems_of(
        tmp_path,
        """\
        - op: run
          title: 호스트 네트워크
          argv: [ls]
          network: host
        """,
    )
    assert found == [
        f"{found[0].split(':')[0]}:10: step 1 (run): network 'host' is not made by an earlier create_network "
        "step; demos only use their own internal networks, never host or bridge"
    ]


def test_unknown_operations_missing_fields_and_bad_references_have_lines(tmp_path):
    found = problems_of(
        tmp_path,
        """\
        - op: docker_exec
          title: 없는 동작
        - op: run
          title: argv 없음
        - title: op 없음
        - op: remove_container
          title: 없는 컨테이너
          container: ghost
        - op: run
          title: 없는 볼륨
          argv: [ls]
          mounts:
            - {type: volume, source: nowhere, target: /data}
        """,
    )
    text = "\n".join(found)
    assert ":7: step 1 has unknown operation 'docker_exec' (known: " in text
    assert ":9: step 2 (run): missing field 'argv'" in text
    assert ":11: step 3 has no 'op'" in text
    # References are checked once the steps themselves are valid.
    assert len(found) == 3


def test_references_to_removed_or_never_created_objects(tmp_path):
    found = problems_of(
        tmp_path,
        """\
        - op: remove_container
          title: 없는 컨테이너
          container: ghost
        - op: run
          title: 없는 볼륨
          argv: [ls]
          mounts:
            - {type: volume, source: nowhere, target: /data}
        - op: create_volume
          title: 볼륨
          volume: data
        - op: remove_volume
          title: 삭제
          volume: data
        - op: remove_volume
          title: 두 번 삭제
          volume: data
        """,
    )
    assert [p.split(":", 1)[1] for p in found] == [
        "9: step 1 (remove_container): container 'ghost' is not started by an earlier run step"
        " (or was removed)",
        "14: step 2 (run): volume 'nowhere' is not made by an earlier create_volume step",
        "23: step 5 (remove_volume): volume 'data' is not made by an earlier create_volume step",
    ]


def test_wrong_types_and_bad_paths(tmp_path):
    found = problems_of(
        tmp_path,
        """\
        - op: run
          title: 타입
          argv: "ls -la"
          rm: yes please
          mounts:
            - {type: anonymous, target: ../etc}
          timeout_s: 0
        - op: write_host_file
          title: 탈출
          path: ../../etc/passwd
          content: x
        """,
    )
    text = "\n".join(found)
    assert ":9: step 1 (run): argv must be a list, not text" in text
    assert ":10: step 1 (run): rm must be true or false, not text" in text
    assert ":12: step 1 (run): mounts: mount 1: target must be an absolute path inside the container" in text
    assert ":13: step 1 (run): timeout_s must be more than 0" in text
    assert ":16: step 2 (write_host_file): path must be a relative path inside the demo directory" in text


def test_header_problems_and_duplicate_names(tmp_path):
    (tmp_path / "a.yaml").write_text(HEADER + "  - {op: list_volumes, title: 목록}\n", encoding="utf-8")
    (tmp_path / "b.yaml").write_text(HEADER + "  - {op: list_volumes, title: 목록}\n", encoding="utf-8")
    (tmp_path / "c.yaml").write_text("name: Bad Name!\ntitle: x\nprivileged: true\n", encoding="utf-8")
    (tmp_path / "d.yaml").write_text("name: [unclosed\n", encoding="utf-8")
    scenarios, problems = load_scenarios(tmp_path)
    text = "\n".join(str(p) for p in problems)
    assert list(scenarios) == ["sample"]
    assert "b.yaml:1: demo 'sample' is already defined in" in text
    assert "c.yaml:1: demo: name must be a-z, 0-9 and -" in text
    assert "c.yaml:3: demo: unknown field 'privileged' — 'privileged' is refused" in text
    assert "c.yaml:1: demo: missing field 'entry'" in text
    assert "d.yaml:2: YAML syntax error" in text or "d.yaml:1: YAML syntax error" in text


@pytest.mark.parametrize("name", ["volumes", "bind-mount", "a1"])
def test_plain_names(name):
    assert is_plain_name(name)


@pytest.mark.parametrize(
    "name",
    ["volumes; rm -rf /", "../volumes", "Volumes", "", "v" * 41, "볼륨", "volumes\n", "$(id)", None, 3],
)
def test_not_plain_names(name):
    assert not is_plain_name(name)


def test_vocabulary_has_no_word_for_privilege_host_or_devices():
    fields = {f for cls in OPERATIONS.values() for f in cls.__dataclass_fields__}
    assert not fields & {
        "privileged",
        "cap_add",
        "devices",
        "network_mode",
        "binds",
        "volumes_from",
        "pid_mode",
    }
