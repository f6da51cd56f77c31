"""The Kubernetes demos on a REAL cluster: behaviour, lockdown, cleanup, SIGKILL, the shared cap, faults.

The cluster comes from the `kube_cluster` fixture (DOCKBOT_KUBECONFIG, or .ci/kube-cluster.sh: Kubernetes
built from Debian's source package, on the Docker engine); without one the tests skip with the reason
locally and fail under CI=true. Pods use imagePullPolicy Never: the demo image is local and nothing can be
pulled here. Objects are checked by this test's own run ids and owner annotations.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import docker
import pytest

from bot.demos.errors import DemoBusy
from bot.demos.kube_cluster import ClusterUnavailable, KubePlatform, connect_cluster
from bot.demos.kube_runner import NAMESPACE_PREFIX, RUN_LABEL, run_kube_scenario
from bot.demos.runner import LABEL, OWNER_LABEL
from bot.demos.scenario import load_scenarios
from bot.demos.service import DemoService
from tests.kube_cluster import NODE_DOCKER_HOST

REPO = Path(__file__).resolve().parent.parent
SCENARIOS = load_scenarios(REPO / "knowledge" / "demos")[0]
IMAGE = os.environ.get("DOCKBOT_DEMO_IMAGE", "busybox:1.36")
HANG_GUARD_S = 240
GONE_WAIT_S = 90


@pytest.fixture(scope="module")
def kube(kube_cluster):
    from kubernetes import client

    api = connect_cluster(kube_cluster.kubeconfig)
    yield client.CoreV1Api(api)
    api.close()


@pytest.fixture(scope="module")
def api(kube_cluster):
    client = connect_cluster(kube_cluster.kubeconfig)
    yield client
    client.close()


def kube_env(kube_cluster) -> dict:
    return {"DOCKBOT_KUBECONFIG": kube_cluster.kubeconfig, "DOCKBOT_KUBE_PULL_POLICY": "Never"}


def dockbot(*args: str, env: dict, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=REPO,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=HANG_GUARD_S,
        check=False,
        **kwargs,
    )


def left_by_run(core, run_id: str) -> list[str]:
    """Namespaces and pods (in any namespace) labelled with this run id."""
    selector = f"{LABEL}={run_id}"
    found = [f"namespace {n.metadata.name}" for n in core.list_namespace(label_selector=selector).items]
    pods = core.list_pod_for_all_namespaces(label_selector=f"{RUN_LABEL}={run_id}").items
    found += [f"pod {p.metadata.name}" for p in pods]
    return found


def wait_gone(core, run_id: str) -> list[str]:
    end = time.monotonic() + GONE_WAIT_S
    while (left := left_by_run(core, run_id)) and time.monotonic() < end:
        time.sleep(0.5)
    return left


def run(api, name: str, **kwargs):
    return run_kube_scenario(api, SCENARIOS[name], image=IMAGE, pull_policy="Never", **kwargs)


def steps_ok(result) -> None:
    assert result.ok, [(s.title, s.error, s.expectations, s.output) for s in result.steps] + [result.error]
    assert len(result.steps) == len(SCENARIOS[result.demo].steps)
    assert all(held for step in result.steps for _, held in step.expectations)
    assert all(step.command.startswith("kubectl ") for step in result.steps)


def pod_names(table: str) -> list[str]:
    return [line.split()[0] for line in table.splitlines()[1:] if line.strip() and not line.startswith("(")]


# --- each demo: its expectations hold, and what they claim is in the real output -------------------------


@pytest.mark.kubernetes
def test_self_healing_a_deleted_pod_is_replaced(api, kube):
    result = run(api, "self-healing")
    steps_ok(result)
    first = set(pod_names(result.steps[1].output.split("\n", 1)[1]))
    deleted = result.steps[2].command.removeprefix("kubectl delete pod ")
    assert len(first) == 3 and deleted in first
    after = result.steps[3].output
    new = [line.split()[0] for line in after.splitlines() if "← 새 파드" in line]
    assert len(new) == 1 and new[0] not in first
    running = [line.split()[0] for line in after.splitlines()[1:] if " Running " in line]
    assert set(running) == (first - {deleted}) | {new[0]}
    assert f"[pod/{new[0]}]" in result.steps[4].output  # the new pod's own log
    assert left_by_run(kube, result.run_id) == []


@pytest.mark.kubernetes
def test_service_keeps_its_cluster_ip_while_the_endpoints_change(api, kube):
    result = run(api, "service")
    steps_ok(result)
    before, after = result.steps[2].output, result.steps[5].output
    ip_before, ip_after = before.splitlines()[1].split()[2], after.splitlines()[1].split()[2]
    assert ip_before == ip_after and ip_before.count(".") == 3
    assert f"ClusterIP {ip_before}" in result.steps[1].output
    endpoints_before = set(before.splitlines()[-1].split(None, 1)[1].split(", "))
    endpoints_after = set(after.splitlines()[-1].split(None, 1)[1].split(", "))
    assert len(endpoints_before) == len(endpoints_after) == 2
    assert endpoints_before.isdisjoint(endpoints_after)  # every pod (and its IP) is new
    assert all(address.endswith(":8080") for address in endpoints_before | endpoints_after)
    assert left_by_run(kube, result.run_id) == []


@pytest.mark.kubernetes
def test_rollout_env_change_then_a_never_pulled_image_stalls_and_undo_restores(api, kube):
    result = run(api, "rollout")
    steps_ok(result)
    by_op = list(zip((step.name for step in SCENARIOS["rollout"].steps), result.steps, strict=True))
    logs = next(step.output for op, step in by_op if op == "pod_logs")
    assert logs.count("VERSION=v2") == 2 and "VERSION=v1" not in logs
    stalled = next(step.output for op, step in by_op if op == "wait_stalled")
    assert "ErrImageNeverPull" in stalled
    assert sum(" Running " in line for line in stalled.splitlines()) == 2
    history = result.steps[-1].output.splitlines()
    assert [line.split()[0] for line in history[2:]] == ["1", "3", "4"]
    assert "never-pulled" in history[3] and "busybox" in history[4] and "VERSION=v2" in history[4]
    assert left_by_run(kube, result.run_id) == []


@pytest.mark.kubernetes
def test_cli_json_self_healing_reports_ok_and_leaves_no_demo_namespace(kube_cluster, kube):
    done = dockbot("demo", "self-healing", "--json", env=kube_env(kube_cluster))
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["ok"] and report["error"] is None
    assert all(step["ok"] for step in report["steps"]) and len(report["steps"]) == 5
    assert left_by_run(kube, report["run_id"]) == []
    mine = [n.metadata.name for n in kube.list_namespace().items if report["run_id"] in n.metadata.name]
    assert mine == []


# --- lockdown, as the cluster and the engine report it ---------------------------------------------------


@pytest.mark.kubernetes
def test_namespace_and_pods_are_locked_down(api, kube, docker_client):
    node_engine = docker.DockerClient(base_url=NODE_DOCKER_HOST, timeout=15)  # where the pods' containers are
    seen: dict = {}

    def inspect(progress) -> None:
        if len(progress.steps) != 2:  # the pods are running after rollout_status
            return
        namespace = NAMESPACE_PREFIX + progress.run_id
        seen["namespace"] = kube.read_namespace(namespace)
        seen["quota"] = kube.list_namespaced_resource_quota(namespace).items
        seen["limits"] = kube.list_namespaced_limit_range(namespace).items
        seen["pods"] = kube.list_namespaced_pod(namespace).items
        of_pods = [f"io.kubernetes.pod.namespace={namespace}", "io.kubernetes.container.name=app"]
        containers = node_engine.containers.list(filters={"label": of_pods})
        seen["docker"] = [c.attrs for c in containers]
        # The pause containers carry the pod's labels (dockershim): never the Docker demos' `dockbot.demo`.
        in_namespace = node_engine.containers.list(
            filters={
                "label": [f"io.kubernetes.pod.namespace={namespace}", "io.kubernetes.docker.type=podsandbox"]
            }
        )
        seen["sandboxes"] = [c.labels for c in in_namespace]
        seen["status"] = [c.exec_run(["cat", "/proc/1/status"]).output.decode() for c in containers]

    try:
        result = run(api, "self-healing", on_progress=inspect)
    finally:
        node_engine.close()
    steps_ok(result)
    labels = seen["namespace"].metadata.labels
    assert labels[LABEL] == result.run_id
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    assert seen["namespace"].metadata.annotations[OWNER_LABEL] == f"{socket.gethostname()}:{os.getpid()}"
    assert seen["quota"][0].spec.hard["pods"] and seen["limits"][0].spec.limits[0].max["memory"]
    assert len(seen["pods"]) == 3
    for pod in seen["pods"]:
        assert pod.spec.automount_service_account_token is False
        assert not (pod.spec.host_network or pod.spec.host_pid or pod.spec.host_ipc)
        assert [volume.name for volume in pod.spec.volumes] == ["tmp"]  # no service-account token volume
        (container,) = pod.spec.containers
        assert container.image == IMAGE and container.image_pull_policy == "Never"
        security = container.security_context
        assert security.run_as_non_root and security.read_only_root_filesystem
        assert security.allow_privilege_escalation is False and security.capabilities.drop == ["ALL"]
        assert container.resources.limits == {"cpu": "100m", "memory": "32Mi"}
    assert len(seen["docker"]) == 3
    assert seen["sandboxes"] and all(LABEL not in labels for labels in seen["sandboxes"])
    for attrs in seen["docker"]:
        host = attrs["HostConfig"]
        assert host["ReadonlyRootfs"] is True and not host["Privileged"]
        assert attrs["Config"]["User"].split(":")[0] == "65534"
        assert "no-new-privileges" in host["SecurityOpt"]
        assert host["Memory"] == 32 * 1024 * 1024
    for status in seen["status"]:
        fields = dict(line.split(":\t", 1) for line in status.splitlines() if ":\t" in line)
        assert int(fields["CapEff"], 16) == 0 and fields["NoNewPrivs"].strip() == "1"
        assert fields["Uid"].split()[0] == "65534"
    assert left_by_run(kube, result.run_id) == []


# --- SIGKILL mid-demo, then `dockbot gc` or the next start sweeps it -------------------------------------


def start_and_kill_mid_demo(spawn, env: dict) -> int:
    proc = spawn(
        [sys.executable, "-m", "bot", "demo", "self-healing"],
        cwd=REPO,
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + HANG_GUARD_S
    for line in proc.stdout:
        if line.startswith("[2/") or time.monotonic() > deadline:
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=HANG_GUARD_S)
    assert proc.returncode == -signal.SIGKILL
    return proc.pid


def namespaces_of(core, pid: int) -> list[str]:
    owner = f"{socket.gethostname()}:{pid}"
    return [
        n.metadata.name
        for n in core.list_namespace(label_selector=LABEL).items
        if (n.metadata.annotations or {}).get(OWNER_LABEL) == owner
    ]


@pytest.mark.kubernetes
@pytest.mark.parametrize("cleaner", ["dockbot gc", "next demo start"])
def test_sigkill_mid_demo_then_gc_or_next_start_deletes_its_namespace(kube_cluster, kube, cleaner, spawn):
    env = kube_env(kube_cluster)
    pid = start_and_kill_mid_demo(spawn, env)
    left = namespaces_of(kube, pid)
    assert len(left) == 1, "the killed demo should have left its namespace behind"
    run_id = left[0].removeprefix(NAMESPACE_PREFIX)
    assert kube.list_namespaced_pod(left[0]).items, "and its pods"
    if cleaner == "dockbot gc":
        done = dockbot("gc", env=env)
        assert done.returncode == 0, done.stdout + done.stderr
        assert f"namespace {left[0]}" in done.stdout
    else:
        done = dockbot("demo", "self-healing", env=env)
        assert done.returncode == 0, done.stdout + done.stderr
    assert wait_gone(kube, run_id) == []


# --- the cap and the per-user rule are shared with the Docker demos ---------------------------------------


def service(kube_cluster, max_concurrent: int) -> DemoService:
    platform = KubePlatform(kube_cluster.kubeconfig, image=IMAGE, pull_policy="Never")
    return DemoService(
        lambda: SCENARIOS, image=IMAGE, max_concurrent=max_concurrent, platforms={"kubernetes": platform}
    )


@pytest.mark.kubernetes
def test_the_cap_and_the_per_user_rule_are_shared_with_docker_demos(kube_cluster, kube, docker_client):
    one = service(kube_cluster, max_concurrent=1)
    try:
        running = one.submit("self-healing", user="U1")
        with pytest.raises(DemoBusy) as full:
            one.submit("volumes", user="U2")  # a Docker demo: no slot left
        assert "1개 실행 중" in full.value.message_ko
        assert running.result(timeout=HANG_GUARD_S).ok
    finally:
        one.close()
    two = service(kube_cluster, max_concurrent=2)
    try:
        kube_run = two.submit("self-healing", user="U1")
        with pytest.raises(DemoBusy) as busy:
            two.submit("volumes", user="U1")  # the same user, the other platform
        assert "이미 실행 중인 데모" in busy.value.message_ko
        docker_run = two.submit("volumes", user="U2")
        with pytest.raises(DemoBusy):
            two.submit("service", user="U3")  # both slots taken, one by each platform
        results = [kube_run.result(timeout=HANG_GUARD_S), docker_run.result(timeout=HANG_GUARD_S)]
        assert all(result.ok for result in results), [result.error for result in results]
    finally:
        two.close()
    assert left_by_run(kube, results[0].run_id) == []


@pytest.mark.kubernetes
def test_two_kubernetes_demos_at_once_run_in_their_own_namespaces(kube_cluster, kube):
    both = service(kube_cluster, max_concurrent=2)
    seen: list[set[str]] = []
    lock = threading.Lock()

    def record(progress) -> None:
        with lock:
            seen.append({n.metadata.name for n in kube.list_namespace(label_selector=LABEL).items})

    try:
        futures = [both.submit("self-healing", user=user, on_progress=record) for user in ("U1", "U2")]
        results = [future.result(timeout=HANG_GUARD_S) for future in futures]
    finally:
        both.close()
    assert all(result.ok for result in results), [result.error for result in results]
    names = {NAMESPACE_PREFIX + result.run_id for result in results}
    assert any(names <= found for found in seen)  # both namespaces existed at the same time
    assert all(left_by_run(kube, result.run_id) == [] for result in results)


# --- a cluster that does not answer ----------------------------------------------------------------------


def kubeconfig_for(tmp_path: Path, server: str) -> str:
    path = tmp_path / "kubeconfig"
    path.write_text(
        "apiVersion: v1\nkind: Config\n"
        f"clusters:\n- name: c\n  cluster:\n    server: {server}\n    insecure-skip-tls-verify: true\n"
        "users:\n- name: u\n  user:\n    token: not-a-real-token\n"
        "contexts:\n- name: demo\n  context: {cluster: c, user: u}\ncurrent-context: demo\n",
        encoding="utf-8",
    )
    return str(path)


def test_an_unreachable_cluster_gives_a_korean_message_and_exit_3(tmp_path):
    env = {"DOCKBOT_KUBECONFIG": kubeconfig_for(tmp_path, "https://127.0.0.1:1")}
    for args in (("demo", "self-healing"), ("demo", "self-healing", "--json"), ("gc",)):
        started = time.monotonic()
        done = dockbot(*args, env=env)
        print(f"dockbot {' '.join(args)} with the cluster unreachable: {time.monotonic() - started:.2f} s")
        assert done.returncode == 3, done.stdout + done.stderr
        assert "Traceback" not in done.stdout + done.stderr
        shown = json.loads(done.stdout)["error"] if "--json" in args else done.stderr
        assert "쿠버네티스 클러스터에 연결할 수 없습니다 (https://127.0.0.1:1)" in shown


def test_a_hung_cluster_is_reported_after_the_short_timeout(tmp_path):
    silent = socket.create_server(("127.0.0.1", 0))  # accepts connections, never answers
    try:
        config = kubeconfig_for(tmp_path, f"https://127.0.0.1:{silent.getsockname()[1]}")
        started = time.monotonic()
        done = dockbot("demo", "self-healing", env={"DOCKBOT_KUBECONFIG": config})
        print(f"dockbot demo self-healing with a hung cluster: {time.monotonic() - started:.2f} s")
        assert done.returncode == 3 and "쿠버네티스 클러스터에 연결할 수 없습니다" in done.stderr
        with pytest.raises(ClusterUnavailable):
            connect_cluster(config)
    finally:
        silent.close()


def test_no_cluster_configured_refuses_kubernetes_demos_only(tmp_path):
    env = {"DOCKBOT_KUBECONFIG": ""}
    done = dockbot("demo", "self-healing", env=env)
    assert done.returncode == 3
    assert "쿠버네티스 데모용 클러스터가 설정되어 있지 않습니다" in done.stderr
    listed = dockbot("demo", "--list", "--json", env=env)
    assert {"self-healing", "service", "rollout"} <= {d["name"] for d in json.loads(listed.stdout)["demos"]}


# --- Slack: /demo self-healing through the real `dockbot serve` ------------------------------------------


@pytest.mark.kubernetes
def test_slack_demo_self_healing_through_the_real_serve(fake, kube_cluster, kube, tmp_path_factory):
    from slack_harness import DockbotProcess, SlackSender, command_form, dockbot_env

    channel = "CKUBEDEMO"
    env = dockbot_env(fake, DOCKBOT_DEMO_CHANNELS=channel, **kube_env(kube_cluster))
    proc = DockbotProcess(env, tmp_path_factory.mktemp("kube-slack") / "dockbot.log").start()
    try:
        form = command_form(
            "/demo", "self-healing", channel=channel, user="UKUBE001", response_url=fake.response_url("kube")
        )
        assert SlackSender(proc.base_url).command(form).status_code == 200
        (first,) = fake.wait_for(lambda: fake.calls_of("chat.postMessage", channel), what="the live message")
        ts = first.result["ts"]

        def final():
            done = [
                c
                for c in fake.calls_of("chat.update", channel)
                if c.params.get("ts") == ts and "결론" in c.all_text
            ]
            return done[-1] if done else None

        message = fake.wait_for(final, timeout=HANG_GUARD_S, what="the final demo result")
    finally:
        proc.stop()
    blocks = json.dumps(message.params["blocks"], ensure_ascii=False)
    assert "kubectl delete pod web-" in blocks and "kubectl rollout status" in blocks
    assert "✅" in blocks and "❌" not in blocks and ":tada:" in blocks
    run_id = message.all_text.split("실행 ID `", 1)[1].split("`", 1)[0]
    assert left_by_run(kube, run_id) == []
