"""The demo sandbox, tested from inside: containers started through the real runner (bot/demos/runner.py
`DemoContext.run_container`, which builds the host config with `lockdown_host_config` and re-checks it with
`check_lockdown`) on the real engine.

Inside a demo container: effective capabilities 0, no network interface but lo, a read-only root filesystem,
a fork bomb stopped at the pids limit, a memory hog killed at the memory limit, no Docker socket, none of
the bot's secrets. Scenario YAML that asks for privileged mode, host paths, host network, devices or extra
capabilities is rejected by `dockbot validate` and, should anything get past the vocabulary, by the runner.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
import time
from types import SimpleNamespace

import pytest
from slack_harness import REPO

from tests.reliability.engines import labelled

IMAGE = os.environ.get("DOCKBOT_DEMO_IMAGE", "busybox:1.36")
STEP_S = 30


@pytest.fixture
def sandbox(docker_client):
    """A DemoContext of the real runner (its own run id and labels), cleaned up afterwards."""
    from bot.demos.engine import connect_engine, ensure_image
    from bot.demos.runner import DemoContext, new_run_id

    api = connect_engine()
    ensure_image(api, IMAGE)
    ctx = DemoContext(api, IMAGE, new_run_id(), expires=time.time() + 300)
    yield ctx
    assert ctx.cleanup() == []
    assert labelled(api, ctx.run_id) == []
    api.close()


def run(ctx, argv: list[str], *, alias: str | None = None, detach: bool = False):
    return ctx.run_container(
        alias, argv, [], None, detach=detach, remove=False, deadline=time.monotonic() + STEP_S
    )


def test_no_capabilities_and_no_new_privileges(sandbox, figures):
    outcome = run(
        sandbox, ["sh", "-c", "grep -E '^(CapEff|CapPrm|CapBnd|CapAmb|NoNewPrivs):' /proc/self/status"]
    )
    fields = dict(re.findall(r"^(\w+):\s+(\S+)$", outcome.output, re.M))
    assert fields["CapEff"] == "0000000000000000", outcome.output
    assert fields["CapPrm"] == fields["CapBnd"] == fields["CapAmb"] == "0000000000000000", outcome.output
    assert fields["NoNewPrivs"] == "1"
    # What capabilities would allow, refused for real.
    denied = run(
        sandbox,
        [
            "sh",
            "-c",
            "mount -t tmpfs none /tmp 2>&1; echo rc=$?; "
            "chown 1:1 /tmp 2>&1; echo rc=$?; mknod /tmp/d c 1 3 2>&1; echo rc=$?",
        ],
    )
    assert denied.output.count("rc=0") == 0, denied.output
    figures.add("security_sandbox", "checks", 2)


def test_demo_containers_run_as_an_unprivileged_user(sandbox, figures):
    from bot.demos.hostdir import DEMO_UID

    outcome = run(sandbox, ["sh", "-c", "id -u; id -g"])
    assert outcome.output.split() == [str(DEMO_UID), str(DEMO_UID)] and DEMO_UID != 0, outcome.output
    figures.add("security_sandbox", "checks")


def test_no_network_but_loopback(sandbox, figures):
    outcome = run(sandbox, ["sh", "-c", "ls /sys/class/net; echo ---; cat /proc/net/route"])
    interfaces, _, routes = outcome.output.partition("---")
    assert interfaces.split() == ["lo"], outcome.output
    assert len(routes.strip().splitlines()) <= 1  # the header line only: no route anywhere
    figures.add("security_sandbox", "checks")


def test_root_filesystem_is_read_only(sandbox, figures):
    script = (
        "for d in / /etc /bin; do touch $d/dockbot-x 2>&1; echo rc=$?; done; mkdir /new 2>&1; echo rc=$?; "
    )
    outcome = run(sandbox, ["sh", "-c", script + "echo ok > /tmp/t && cat /tmp/t"])
    assert outcome.output.count("Read-only file system") == 4, outcome.output
    assert "rc=0" not in outcome.output
    assert outcome.output.rstrip().endswith("ok")  # only the small /tmp tmpfs is writable
    figures.add("security_sandbox", "checks")


def test_a_fork_bomb_stops_at_the_pids_limit(sandbox, figures):
    from bot.demos.lockdown import PIDS_LIMIT

    # Counting: background sleeps until fork fails; busybox sh then aborts, and tini takes the rest down.
    outcome = run(sandbox, ["sh", "-c", "i=0; while :; do sleep 60 & i=$((i+1)); echo $i; done"])
    started = [int(n) for n in re.findall(r"^(\d+)$", outcome.output, re.M)]
    assert "can't fork" in outcome.output, outcome.output[-500:]
    assert started and max(started) < PIDS_LIMIT, max(started)
    # The classic bomb, detached: the engine reports the pids cgroup pinned at (not above) the limit.
    run(sandbox, ["sh", "-c", "b() { b | b & }; b; sleep 60"], alias="bomb", detach=True)
    time.sleep(3)
    container = sandbox.real_name("bomb")
    stats = sandbox.api.stats(container, stream=False)
    current = stats.get("pids_stats", {}).get("current")
    assert current is None or current <= PIDS_LIMIT, stats.get("pids_stats")  # 0 once the bomb collapsed
    assert sandbox.api.inspect_container(container)["HostConfig"]["PidsLimit"] == PIDS_LIMIT
    sandbox.api.remove_container(container, v=True, force=True)
    figures.add("security_sandbox", "checks")
    figures.set("security_sandbox", "fork_bomb_children_before_fork_failed", max(started))


def test_a_memory_hog_is_killed_at_the_memory_limit(sandbox, figures):
    from bot.demos.lockdown import MEMORY_BYTES

    run(
        sandbox,
        ["sh", "-c", "x=$(head -c 200000000 /dev/zero | tr '\\0' a); echo survived ${#x}"],
        alias="hog",
        detach=True,
    )
    container = sandbox.real_name("hog")
    status = sandbox.api.wait(container, timeout=STEP_S)["StatusCode"]
    state = sandbox.api.inspect_container(container)["State"]
    assert state["OOMKilled"] is True and status == 137, (status, state)
    assert b"survived" not in sandbox.api.logs(container)
    limits = sandbox.api.inspect_container(container)["HostConfig"]
    assert limits["Memory"] == limits["MemorySwap"] == MEMORY_BYTES  # and no swap to escape into
    figures.add("security_sandbox", "checks")


def test_no_docker_socket_no_host_processes_no_secrets(sandbox, figures, monkeypatch):
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-sandbox-must-not-see-this")
    outcome = run(
        sandbox,
        [
            "sh",
            "-c",
            "ls -la /var/run/docker.sock /run/docker.sock 2>&1; "
            "grep -c docker.sock /proc/mounts; ps -o pid,comm; env",
        ],
    )
    assert outcome.output.count("No such file or directory") == 2, outcome.output
    assert re.search(r"^0$", outcome.output, re.M), outcome.output  # no docker.sock among the mounts
    assert "dockerd" not in outcome.output and "containerd" not in outcome.output  # its own pid namespace
    assert "SLACK" not in outcome.output and "DOCKBOT" not in outcome.output and "xoxb" not in outcome.output
    figures.add("security_sandbox", "checks")


# ---- scenarios asking for more ----------------------------------------------------------------------

HEADER = """\
name: {name}
title: 위험한 시나리오
entry: volume-basics
explanation: 허용되지 않는 설정을 요청합니다.
conclusion: 실행되면 안 됩니다.
steps:
"""
EVIL_STEPS = {
    "privileged": "  - {op: run, title: x, argv: [id], privileged: true}",
    "host-path-volume": "  - {op: run, title: x, argv: [id], volumes: ['/:/host']}",
    "host-path-bind": "  - {op: run, title: x, argv: [id], mounts: [{type: bind, source: /, target: /host}]}",
    "host-source": "  - {op: run, title: x, argv: [id], mounts: [{type: volume, source: /etc, target: /a}]}",
    "host-network": "  - {op: run, title: x, argv: [id], network: host}",
    "network-mode": "  - {op: run, title: x, argv: [id], network_mode: host}",
    "host-network-create": "  - {op: create_network, title: x, network: host}",
    "devices": "  - {op: run, title: x, argv: [id], devices: ['/dev/sda:/dev/sda']}",
    "cap-add": "  - {op: run, title: x, argv: [id], cap_add: [SYS_ADMIN]}",
    "pid-host": "  - {op: run, title: x, argv: [id], pid: host}",
    "security-opt": "  - {op: run, title: x, argv: [id], security_opt: ['seccomp=unconfined']}",
    "user-root": "  - {op: run, title: x, argv: [id], user: '0:0'}",
    "mount-proc": "  - {op: run, title: x, argv: [id], mounts: [{type: anonymous, target: /proc/sys}]}",
    "unknown-op": "  - {op: exec_shell, title: x, command: 'rm -rf /'}",
}


@pytest.mark.slow
def test_dockbot_validate_rejects_scenarios_asking_for_more(tmp_path, figures):
    knowledge = tmp_path / "knowledge"
    shutil.copytree(REPO / "knowledge", knowledge)
    for name, step in EVIL_STEPS.items():
        body = HEADER.format(name=f"evil-{name}") + step + "\n"
        (knowledge / "demos" / f"evil-{name}.yaml").write_text(body, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "bot", "validate", str(knowledge)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
        env={**os.environ, "PYTHONIOENCODING": "utf-8"},
    )
    assert done.returncode == 1, done.stdout
    assert "Traceback" not in done.stdout + done.stderr
    for name in EVIL_STEPS:
        lines = [line for line in done.stdout.splitlines() if f"evil-{name}.yaml:" in line]
        assert lines, f"{name} was not rejected:\n{done.stdout}"
        assert all(re.match(rf".*evil-{name}\.yaml:\d+: \S", line) for line in lines)
    refused = [line for line in done.stdout.splitlines() if "refused" in line or "host" in line]
    assert len(refused) >= 6, done.stdout
    # And the loader keeps none of them: the bot would never offer them.
    from bot.demos.scenario import load_scenarios

    scenarios, _ = load_scenarios(knowledge / "demos")
    assert not [name for name in scenarios if name.startswith("evil-")]
    figures.add("security_sandbox", "evil_scenarios_rejected_by_validate", len(EVIL_STEPS))


HOST_CONFIG_ATTACKS = {
    "Privileged": True,
    "CapAdd": ["SYS_ADMIN"],
    "Devices": [{"PathOnHost": "/dev/sda", "PathInContainer": "/dev/sda", "CgroupPermissions": "rwm"}],
    "Binds": ["/:/host"],
    "NetworkMode": "host",
    "PidMode": "host",
    "IpcMode": "host",
    "UsernsMode": "host",
    "CapDrop": [],
    "ReadonlyRootfs": False,
    "PidsLimit": 0,
    "Memory": 0,
    "SecurityOpt": [],
    "Mounts": [{"Type": "bind", "Source": "/var/run/docker.sock", "Target": "/var/run/docker.sock"}],
}


@pytest.mark.parametrize("key", sorted(HOST_CONFIG_ATTACKS))
def test_the_runner_refuses_any_loosened_host_config(sandbox, key, figures):
    """Whatever produced it, a host config looser than the lockdown never reaches the engine."""
    from bot.demos.lockdown import LockdownViolation, check_lockdown
    from bot.demos.runner import lockdown_host_config

    config = lockdown_host_config(sandbox.api, network_mode="none", mounts=[])
    check_lockdown(config, allowed_networks=(), host_dir=None)  # the real one passes
    config[key] = HOST_CONFIG_ATTACKS[key]
    with pytest.raises(LockdownViolation):
        check_lockdown(config, allowed_networks=(), host_dir=None)
    figures.add("security_sandbox", "host_configs_refused_by_runner")


@pytest.mark.parametrize("network", ["host", "bridge", "default", "none-of-ours"])
def test_the_runner_refuses_networks_and_mounts_it_did_not_create(sandbox, network, figures):
    from bot.demos.lockdown import LockdownViolation

    with pytest.raises(LockdownViolation):
        sandbox.run_container(
            None, ["id"], [], network, detach=False, remove=True, deadline=time.monotonic() + STEP_S
        )
    host_mount = SimpleNamespace(type="bind", source="/", target="/host", read_only=False)
    foreign_volume = SimpleNamespace(type="volume", source="someone-elses", target="/data", read_only=False)
    for spec in (host_mount, foreign_volume):
        with pytest.raises(LockdownViolation):
            sandbox.run_container(
                None, ["id"], [spec], None, detach=False, remove=True, deadline=time.monotonic() + STEP_S
            )
    assert sandbox.list_containers() == []  # nothing was created
    figures.add("security_sandbox", "runner_refusals", 3)


def test_evil_scenario_text_is_never_run(figures):
    """Belt and braces: even the loader's parse of a privileged step yields no scenario to run."""
    from bot.demos.scenario import parse_scenario
    from bot.yamlfile import parse_yaml

    body = HEADER.format(name="evil") + EVIL_STEPS["privileged"] + "\n"
    _, problems = parse_scenario(parse_yaml(textwrap.dedent(body), "evil.yaml"))
    assert problems and all(p.path == "evil.yaml" and p.line >= 1 for p in problems)
    figures.add("security_sandbox", "evil_scenarios_rejected_by_loader")
