"""The demos on the REAL Docker engine: behaviour, lockdown, cleanup, deadlines, faults, concurrency.

Every test uses the `docker_client` fixture: without an engine it skips locally and fails under CI=true.
Objects are checked by this test's own run ids / owner labels, so demos that other suites run on the same
engine at the same time cannot make these tests pass or fail.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

import docker
import pytest

from bot.demos.cleanup import sweep
from bot.demos.engine import connect_engine, ensure_image
from bot.demos.errors import DemoBusy, EngineUnavailable
from bot.demos.hostdir import writable_root_tar
from bot.demos.lockdown import LockdownViolation, check_lockdown
from bot.demos.runner import LABEL, OWNER_LABEL, run_scenario
from bot.demos.scenario import load_scenarios
from bot.demos.service import DemoService
from tests.demo_image import BUSYBOX, DOCKERFILE, build_demo_image
from tests.second_engine import SecondEngine, unavailable_reason

pytestmark = pytest.mark.docker

REPO = Path(__file__).resolve().parent.parent
SCENARIOS = load_scenarios(REPO / "knowledge" / "demos")[0]
IMAGE = os.environ.get("DOCKBOT_DEMO_IMAGE", "busybox:1.36")
HANG_GUARD_S = 60


@pytest.fixture(scope="module")
def api(docker_client):
    client = connect_engine()
    try:
        ensure_image(client, IMAGE)
    except EngineUnavailable as exc:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true but the demo image is missing: {exc}")
        pytest.skip(f"demo image {IMAGE} unavailable: {exc}")
    yield client
    client.close()


def objects(client, selector: str) -> list[str]:
    """Every container, volume and network whose labels match `selector` (e.g. dockbot.demo=<run id>)."""
    filters = {"label": selector}
    found = [f"container {c['Names'][0]}" for c in client.containers(all=True, filters=filters)]
    found += [f"volume {v['Name']}" for v in client.volumes(filters=filters).get("Volumes") or []]
    found += [f"network {n['Name']}" for n in client.networks(filters=filters)]
    return found


def left_by_run(client, run_id: str) -> list[str]:
    temp = [str(p) for p in Path(tempfile.gettempdir()).glob(f"dockbot-{run_id}-*")]
    return objects(client, f"{LABEL}={run_id}") + temp


def dockbot(*args: str, env: dict | None = None, **kwargs) -> subprocess.CompletedProcess:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=REPO,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=HANG_GUARD_S,
        check=False,
        **kwargs,
    )


def scenario_dir(tmp_path: Path, body: str) -> dict:
    (tmp_path / "t.yaml").write_text(textwrap.dedent(body), encoding="utf-8")
    scenarios, problems = load_scenarios(tmp_path)
    assert problems == []
    return scenarios


# --- every shipped scenario, with its behaviour asserted from the result ----------------------------------


def outputs(run) -> list[str]:
    return [step.output for step in run.steps]


def test_volumes_named_survives_anonymous_is_gone(api):
    run = run_scenario(api, SCENARIOS["volumes"], image=IMAGE)
    out = outputs(run)
    assert run.ok and run.finished and run.error is None, run.to_json()
    assert out[1].splitlines() == ["명명된 볼륨의 메모", "익명 볼륨의 메모"]  # both written
    assert len(out[2].splitlines()) == 2 and "data" in out[2].splitlines()  # named + anonymous exist
    assert out[4].splitlines() == ["data"]  # rm -v took the anonymous one, the named one stays
    # A NEW container reads the named volume's file back; the anonymous file is not there.
    assert out[5].splitlines() == ["명명된 볼륨의 메모", "익명 볼륨의 파일은 없음"]
    assert out[7] == ""
    assert left_by_run(api, run.run_id) == []


def test_anonymous_volumes_pile_up_without_rm(api):
    run = run_scenario(api, SCENARIOS["anonymous-pileup"], image=IMAGE)
    out = outputs(run)
    assert run.ok, run.to_json()
    assert out[3].splitlines() == ["job1", "job2", "job3"]
    piled = out[7].splitlines()
    assert len(piled) == 3 and all(len(name) == 64 for name in piled)  # three anonymous volumes left over
    assert sorted(out[8].splitlines()) == sorted(piled)  # removed by hand, exactly those
    assert out[10] == ""  # --rm took its anonymous volume along
    assert left_by_run(api, run.run_id) == []


def test_bind_mount_host_edit_is_seen_and_container_write_reaches_the_host(api):
    run = run_scenario(api, SCENARIOS["bind-mount"], image=IMAGE)
    out = outputs(run)
    assert run.ok, run.to_json()
    # One long-running reader saw the first version, then the host's edit while it kept running.
    assert out[3].splitlines() == ["첫 번째 버전", "-- 실행 중에 바뀐 내용:", "고친 두 번째 버전"]
    assert out[5] == "컨테이너가 남긴 로그"
    assert left_by_run(api, run.run_id) == []  # the per-run host directory (a labelled volume) is gone too


def test_stateless_new_container_does_not_see_the_old_data(api):
    run = run_scenario(api, SCENARIOS["stateless"], image=IMAGE)
    out = outputs(run)
    assert run.ok, run.to_json()
    assert out[0] == "주문 데이터 42건"
    assert "No such file" in out[2] and "주문" not in out[2]
    assert left_by_run(api, run.run_id) == []


def test_network_by_name_on_a_user_network_and_nothing_without_one(api):
    run = run_scenario(api, SCENARIOS["network"], image=IMAGE)
    out = outputs(run)
    assert run.ok, run.to_json()
    assert "200 OK" in out[2] and "안녕하세요, web 컨테이너입니다" in out[2]
    assert out[3].splitlines()[:2] == ["인터페이스:", "lo"] and "bad address 'web'" in out[3]
    # DNS is per network: a container on another user-defined network cannot resolve web.
    # (Engines differ in how they fail the lookup: a timeout on 20.10's internal networks, an empty answer
    # elsewhere; either way no address for web.)
    assert run.steps[5].expectations == [("출력에 'Name:' 없음", True)]
    assert "Name:" not in out[5] and "Address: 1" not in out[5]
    assert left_by_run(api, run.run_id) == []


def test_path_precedence_more_specific_mount_wins(api):
    run = run_scenario(api, SCENARIOS["path-precedence"], image=IMAGE)
    out = outputs(run)
    assert run.ok, run.to_json()
    listing = out[2].splitlines()
    assert listing[:3] == ["[/app]", "app.js", "node_modules"]
    assert listing[3:] == ["[/app/node_modules]", "(끝)"]  # the anonymous volume hides the host's files
    assert out[3] == "호스트의 node_modules"  # ...which are untouched on the host
    assert left_by_run(api, run.run_id) == []


# --- volume handover: copy-up from the image, or an upload --------------------------------------------


class UploadCountingAPI(docker.APIClient):
    """The real client, recording where a volume is handed over to the demo uid by an archive upload, and
    which images it inspected and how often it pinged."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.uploads: list[str] = []
        self.inspected: list[str] = []
        self.pings = 0

    def inspect_image(self, image):
        self.inspected.append(image)
        return super().inspect_image(image)

    def ping(self, *args, **kwargs):
        self.pings += 1
        return super().ping(*args, **kwargs)

    def put_archive(self, container, path, data):
        if data == writable_root_tar():  # not the bind-mount demos' file edits
            self.uploads.append(path)
        return super().put_archive(container, path, data)


@pytest.fixture(scope="module")
def copy_up_image(docker_client):
    """demo-images/Dockerfile under a tag of this module's own (the shared engine's image may predate it)."""
    if not BUSYBOX.is_file():
        pytest.skip(f"{BUSYBOX} (busybox-static) is absent to build demo-images/Dockerfile")
    tag = f"dockbot-test-copy-up:{os.getpid()}"
    build_demo_image(docker_client, tag)
    yield tag
    docker_client.images.remove(tag, force=True)


@pytest.fixture
def counting_api(api):
    settings = {**docker.utils.kwargs_from_env(), "version": api.api_version, "timeout": 30}
    client = UploadCountingAPI(**settings)
    yield client
    client.close()


def test_volumes_over_paths_the_image_owns_need_no_upload(counting_api, copy_up_image):
    # Every Docker scenario's volume targets are in the image's label: no scenario pays for an upload.
    for name in ("volumes", "anonymous-pileup", "path-precedence", "bind-mount"):
        run = run_scenario(counting_api, SCENARIOS[name], image=copy_up_image)
        assert run.ok, run.to_json()
        assert left_by_run(counting_api, run.run_id) == []
    assert counting_api.uploads == []


def test_a_volume_target_the_image_lacks_is_handed_over_by_upload(counting_api, copy_up_image, tmp_path):
    text = (REPO / "knowledge" / "demos" / "volumes.yaml").read_text()
    moved = text.replace("/data", "/srv/data").replace("/anon", "/srv/anon")
    (tmp_path / "volumes.yaml").write_text(moved)
    scenarios, problems = load_scenarios(tmp_path)
    assert problems == []
    run = run_scenario(counting_api, scenarios["volumes"], image=copy_up_image)
    assert run.ok, run.to_json()
    assert outputs(run)[5].splitlines() == ["명명된 볼륨의 메모", "익명 볼륨의 파일은 없음"]
    # The named volume once, each new anonymous volume again.
    assert counting_api.uploads == ["/srv/data", "/srv/anon", "/srv/anon"]
    assert left_by_run(counting_api, run.run_id) == []


def test_a_run_reads_the_image_once_and_a_rebuilt_image_is_read_again(counting_api, docker_client):
    # The pool checks the engine before every run with one inspect_image instead of a ping; the run reads
    # the writable paths that check learned (no image of its own). A new image under the tag is read again.
    from bot.config import DockerHost
    from bot.demos.engine import known_writable_paths
    from bot.demos.engine_pool import EnginePool

    tag = f"dockbot-test-facts:{os.getpid()}"

    def build(writable: str) -> None:
        dockerfile = f'FROM {IMAGE}\nLABEL dockbot.demo.writable="{writable}"\n'
        docker_client.images.build(
            fileobj=io.BytesIO(dockerfile.encode()), tag=tag, rm=True, network_mode="none"
        )

    pool = EnginePool((DockerHost(),), image=tag, factory=lambda _environment: counting_api)
    (name,) = pool.names
    try:
        build("")  # declares nothing writable: the run must hand its volumes over by upload
        pool.connect(name)
        assert counting_api.inspected == [tag]
        run = run_scenario(pool.connect(name), SCENARIOS["volumes"], image=tag)
        assert run.ok, run.to_json()
        assert counting_api.inspected == [tag, tag] and counting_api.pings == 0
        assert counting_api.uploads == ["/data", "/anon", "/anon"]
        assert left_by_run(counting_api, run.run_id) == []

        build("/data /anon")  # rebuilt: a new id under the same tag
        pool.connect(name)
        assert known_writable_paths(counting_api, tag) == {"/data", "/anon"}
    finally:
        docker_client.images.remove(tag, force=True)


def test_every_docker_scenario_volume_target_is_pre_owned_by_the_demo_image():
    labelled = re.search(r'^ARG WRITABLE="([^"]*)"', DOCKERFILE.read_text(), re.M)
    assert labelled is not None
    declared = set(labelled.group(1).split())
    targets = {
        mount.target
        for scenario in SCENARIOS.values()
        for step in scenario.steps
        for mount in getattr(step, "mounts", ()) or ()
        if mount.type in ("volume", "anonymous")
    }
    assert targets and targets <= declared, sorted(targets - declared)


# --- lockdown ---------------------------------------------------------------------------------------------

LOCKDOWN_PROBE = """\
    name: probe
    title: 잠금 확인
    entry: container-basics
    explanation: 테스트
    conclusion: 테스트
    steps:
      - {op: create_network, title: 네트워크, network: net}
      - {op: create_volume, title: 볼륨, volume: data}
      - op: run
        title: 네트워크 있는 컨테이너
        container: a
        network: net
        detach: true
        mounts: [{type: volume, source: data, target: /data}, {type: anonymous, target: /anon}]
        argv: [sleep, "30"]
      - {op: run, title: 네트워크 없는 컨테이너, container: b, detach: true, argv: [sleep, "30"]}
      - op: run
        title: 안에서 본 권한
        rm: true
        argv: [sh, -c, "touch /x 2>&1; grep -E '^(CapEff|CapBnd|NoNewPrivs)' /proc/self/status"]
"""


def test_every_container_is_locked_down_and_labelled(api, tmp_path):
    scenario = scenario_dir(tmp_path, LOCKDOWN_PROBE)["probe"]
    seen: dict = {}

    def inspect(run):
        if len(run.steps) == 4:  # both detached containers are up: inspect them as the engine sees them
            for container in api.containers(filters={"label": f"{LABEL}={run.run_id}"}):
                seen[container["Names"][0]] = api.inspect_container(container["Id"])
            seen["networks"] = [
                api.inspect_network(n["Id"])
                for n in api.networks(filters={"label": LABEL})
                if n["Labels"].get(LABEL) == run.run_id
            ]
            seen["volumes"] = api.volumes(filters={"label": f"{LABEL}={run.run_id}"})["Volumes"]

    run = run_scenario(api, scenario, image=IMAGE, on_progress=inspect)
    assert run.steps[3].ok and run.steps[4].ok, run.to_json()
    containers = [v for k, v in seen.items() if k.startswith("/")]
    assert len(containers) == 2
    for info in containers:
        host = info["HostConfig"]
        assert host["CapDrop"] == ["ALL"] and not host["CapAdd"] and host["Privileged"] is False
        assert host["SecurityOpt"] == ["no-new-privileges"]
        assert host["ReadonlyRootfs"] is True and "/tmp" in host["Tmpfs"]
        assert host["PidsLimit"] == 64
        assert host["Memory"] == host["MemorySwap"] == 64 * 1024 * 1024
        assert host["NanoCpus"] == 500_000_000 and host["Init"] is True
        assert not host["Binds"] and not host["Devices"]
        assert info["Config"]["Labels"][LABEL] == run.run_id
        assert info["Name"].startswith(f"/dockbot-{run.run_id}-")
    by_name = {info["Name"].rsplit("-", 1)[-1]: info for info in containers}
    assert by_name["b"]["HostConfig"]["NetworkMode"] == "none"
    assert by_name["a"]["HostConfig"]["NetworkMode"] == f"dockbot-{run.run_id}-net"
    assert [n["Internal"] for n in seen["networks"]] == [True]
    assert len(seen["volumes"]) == 2  # the named one and the anonymous one: both carry the run's label
    # Inside: no capabilities at all, no new privileges, read-only root.
    inside = run.steps[4].output
    assert "Read-only file system" in inside
    assert "CapEff:\t0000000000000000" in inside and "CapBnd:\t0000000000000000" in inside
    assert "NoNewPrivs:\t1" in inside
    assert left_by_run(api, run.run_id) == []


def test_the_runner_refuses_a_host_config_that_is_not_locked_down(api):
    base = dict(
        api.create_host_config(
            cap_drop=["ALL"],
            security_opt=["no-new-privileges"],
            read_only=True,
            pids_limit=64,
            mem_limit=64 * 1024 * 1024,
            memswap_limit=64 * 1024 * 1024,
            nano_cpus=500_000_000,
            init=True,
            network_mode="none",
        )
    )
    check_lockdown(base, allowed_networks=(), host_dir=None)
    for change in (
        {"Privileged": True},
        {"CapAdd": ["SYS_ADMIN"]},
        {"NetworkMode": "host"},
        {"Binds": ["/:/host"]},
        {"Devices": [{"PathOnHost": "/dev/sda"}]},
        {"PidsLimit": 0},
        {"Mounts": [{"Type": "bind", "Source": "/etc", "Target": "/x"}]},
        {"ReadonlyRootfs": False},
    ):
        with pytest.raises(LockdownViolation):
            check_lockdown({**base, **change}, allowed_networks=(), host_dir=None)


# --- deadlines --------------------------------------------------------------------------------------------

HANGING = """\
    name: hang
    title: 멈춘 단계
    entry: container-basics
    explanation: 테스트
    conclusion: 테스트
    timeout_s: {demo}
    steps:
      - {{op: create_volume, title: 볼륨, volume: data}}
      - op: run
        title: 60초 자기
        container: sleeper
        timeout_s: {step}
        mounts: [{{type: volume, source: data, target: /data}}, {{type: anonymous, target: /anon}}]
        argv: [sleep, "60"]
      - {{op: list_volumes, title: 여기까지 오면 안 됨}}
"""


@pytest.mark.parametrize(
    ("demo", "step", "expected"),
    [(60, 2, "'60초 자기' 단계가 제한 시간 2초"), (3, 30, "데모 전체 제한 시간 3초")],
)
def test_a_step_past_its_deadline_is_stopped_and_cleaned_up(api, tmp_path, demo, step, expected):
    scenario = scenario_dir(tmp_path, HANGING.format(demo=demo, step=step))["hang"]
    started = time.monotonic()
    run = run_scenario(api, scenario, image=IMAGE)
    assert time.monotonic() - started < HANG_GUARD_S
    assert not run.ok and run.finished
    assert expected in run.error
    assert len(run.steps) == 2 and run.steps[1].error and not run.steps[1].ok
    assert left_by_run(api, run.run_id) == []  # the sleeping container, both volumes: all gone


# --- the engine goes away mid-demo ------------------------------------------------------------------------


class EngineProxy:
    """A TCP front for the local engine socket that the test can cut, as if the engine stopped. A real
    second dockerd is not used: on this shared machine it would share containerd with the team's engine."""

    def __init__(self, target: str):
        self.target = target
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.sockets: list[socket.socket] = []
        self.lock = threading.Lock()
        self.down = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            if self.down:
                client.close()
                return
            upstream = socket.socket(socket.AF_UNIX)
            upstream.connect(self.target)
            with self.lock:
                self.sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        for s in (source, sink):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        self.down = True
        with contextlib.suppress(OSError):
            self.server.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept() and refuses new connections
        self.server.close()
        with self.lock:
            for s in self.sockets:
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                    s.close()


def test_engine_stopping_mid_demo_reports_an_error_and_the_next_sweep_cleans_up(api, engine_host):
    if not engine_host.startswith("unix://"):
        pytest.skip("needs the engine on a local unix socket to put a cuttable proxy in front of it")
    proxy = EngineProxy(engine_host.removeprefix("unix://"))
    through_proxy = docker.APIClient(base_url=f"tcp://127.0.0.1:{proxy.port}", timeout=10)

    def cut_after_writer(run):
        if len(run.steps) == 2:
            proxy.cut()

    run = run_scenario(through_proxy, SCENARIOS["volumes"], image=IMAGE, on_progress=cut_after_writer)
    assert not run.ok and run.finished
    assert "Docker 엔진" in run.error
    assert len(run.steps) == 3 and run.steps[2].error
    # Cleanup could not reach the engine: the writer container and both volumes really are left behind...
    left = objects(api, f"{LABEL}={run.run_id}")
    assert any(item.startswith("container") for item in left) and len(left) >= 2
    # ...until the engine is back and the next runner start / `dockbot gc` sweeps: this process made them
    # and the run is over, so they are stale.
    removed = sweep(api)
    named = {item.replace("container /", "container ") for item in left if f"dockbot-{run.run_id}-" in item}
    assert named == {f"container dockbot-{run.run_id}-writer", f"volume dockbot-{run.run_id}-data"}
    assert named <= set(removed)  # (the anonymous volume goes with its container: remove(v=True))
    assert left_by_run(api, run.run_id) == []
    through_proxy.close()


# --- the process is killed mid-demo -----------------------------------------------------------------------


def start_and_kill_mid_demo(spawn, name: str) -> int:
    """Start `python -m bot demo NAME`, SIGKILL it once two steps are done; returns its pid."""
    proc = spawn(
        [sys.executable, "-m", "bot", "demo", name],
        cwd=REPO,
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


@pytest.mark.parametrize("cleaner", ["dockbot gc", "next demo start"])
def test_sigkill_mid_demo_then_gc_or_next_start_leaves_nothing(api, cleaner, spawn):
    pid = start_and_kill_mid_demo(spawn, "anonymous-pileup")
    owner = f"{OWNER_LABEL}={socket.gethostname()}:{pid}"
    left = objects(api, owner)
    assert left, "the killed demo should have left its containers and volumes behind"
    if cleaner == "dockbot gc":
        done = dockbot("gc")
        assert done.returncode == 0, done.stderr
        for item in left:  # (anonymous volumes go with their containers, so only those are named)
            if item.startswith("container"):
                assert item.split(" ", 1)[1].lstrip("/") in done.stdout
    else:
        done = dockbot("demo", "stateless")
        assert done.returncode == 0, done.stdout + done.stderr
    assert objects(api, owner) == []


# --- CLI and faults ---------------------------------------------------------------------------------------

UNREACHABLE = {"DOCKER_HOST": "tcp://127.0.0.1:1"}


def test_engine_unreachable_gives_a_korean_message_and_no_traceback(docker_client):
    for args in (("demo", "volumes"), ("demo", "volumes", "--json"), ("gc",)):
        started = time.monotonic()
        done = dockbot(*args, env=UNREACHABLE)
        elapsed = time.monotonic() - started
        print(f"dockbot {' '.join(args)} with the engine unreachable: {elapsed:.2f} s")
        assert done.returncode == 3
        assert "Traceback" not in done.stdout + done.stderr
        shown = json.loads(done.stdout)["error"] if "--json" in args else done.stderr
        assert "Docker 엔진에 연결할 수 없습니다 (tcp://127.0.0.1:1)" in shown


def test_a_hung_engine_is_reported_as_unavailable_after_the_short_timeout(docker_client, monkeypatch):
    silent = socket.create_server(("127.0.0.1", 0))  # accepts connections, never answers
    monkeypatch.setenv("DOCKER_HOST", f"tcp://127.0.0.1:{silent.getsockname()[1]}")
    try:
        with pytest.raises(EngineUnavailable) as refused:
            connect_engine()
        assert "Docker 엔진에 연결할 수 없습니다" in refused.value.message_ko
    finally:
        silent.close()


def test_the_client_speaks_the_version_both_sides_know(api):
    """Negotiated as the docker CLI does: min(the engine's API version, the SDK's newest)."""
    engine_version = api.version(api_version=False)["ApiVersion"]

    def as_tuple(version: str) -> tuple[int, ...]:
        return tuple(map(int, version.split(".")))

    newest_known = docker.constants.DEFAULT_DOCKER_API_VERSION
    assert api.api_version == min(engine_version, newest_known, key=as_tuple)
    assert api.ping()


def test_a_missing_image_that_cannot_be_pulled_is_explained(api):
    demos = DemoService(lambda: SCENARIOS, image="dockbot-no-such-image:0")
    try:
        with pytest.raises(EngineUnavailable) as refused:
            demos.submit("volumes", user="U1")
        assert "데모 이미지 'dockbot-no-such-image:0'" in refused.value.message_ko
    finally:
        demos.close()


@pytest.mark.parametrize("name", ["volumes; rm -rf /", "$(touch /tmp/pwned)", "../volumes", "nope"])
def test_cli_unknown_or_malicious_names_list_the_demos_and_run_nothing(docker_client, name):
    # With the engine unreachable on purpose: the refusal must come before any engine contact.
    done = dockbot("demo", name, env=UNREACHABLE)
    assert done.returncode == 2
    assert "라는 데모는 없습니다" in done.stdout and "volumes" in done.stdout and "bind-mount" in done.stdout
    assert "Traceback" not in done.stderr
    assert not Path("/tmp/pwned").exists()


def test_cli_json_and_list(api):
    done = dockbot("demo", "volumes", "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert {"demo", "ok", "steps", "duration_s"} <= set(result)
    assert result["demo"] == "volumes" and result["ok"] is True and len(result["steps"]) == 8
    assert result["steps"][1]["command"].startswith("docker run --name writer")
    assert all(e["ok"] for step in result["steps"] for e in step["expectations"])
    assert left_by_run(api, result["run_id"]) == []
    listed = dockbot("demo", "--list")
    assert listed.returncode == 0 and all(name in listed.stdout for name in SCENARIOS)


def test_cli_writes_the_demo_audit_row_when_dockbot_db_is_set(api, tmp_path):
    from bot.store import Store

    db = tmp_path / "dockbot.db"
    env = {"DOCKBOT_DB": str(db), "LOGNAME": "onboarding-kim"}
    shown = dockbot("demo", "volumes", env=env)
    as_json = dockbot("demo", "volumes", "--json", env=env)
    refused = dockbot("demo", "volumes", env={**env, **UNREACHABLE})  # nothing ran: no row
    assert (shown.returncode, as_json.returncode, refused.returncode) == (0, 0, 3), shown.stderr
    store = Store.open(db)
    rows = store.demo_runs()
    store.close()
    assert [(r["user_id"], r["channel"], r["scenario"], r["ok"]) for r in rows] == [
        ("onboarding-kim", "cli", "volumes", 1)
    ] * 2
    assert all(r["duration_s"] > 0 and r["error"] is None for r in rows)
    assert round(rows[0]["duration_s"], 3) == json.loads(as_json.stdout)["duration_s"]  # newest first


def test_cli_exit_code_is_1_when_an_expectation_does_not_hold(api, tmp_path):
    demos = tmp_path / "demos"
    demos.mkdir()
    (demos / "wrong.yaml").write_text(
        textwrap.dedent("""\
            name: wrong
            title: 틀린 기대
            entry: container-basics
            explanation: 테스트
            conclusion: 테스트
            steps:
              - {op: run, title: 출력, rm: true, argv: [echo, hello], expect: {contains: goodbye}}
        """),
        encoding="utf-8",
    )
    done = dockbot("demo", "wrong", env={"DOCKBOT_KNOWLEDGE_DIR": str(tmp_path)})
    assert done.returncode == 1
    assert "❌ 출력에 'goodbye' 있음" in done.stdout and "│ hello" in done.stdout


# --- concurrency ------------------------------------------------------------------------------------------


def test_two_at_once_run_isolated_a_third_and_a_second_per_user_are_refused(api):
    demos = DemoService(lambda: SCENARIOS, image=IMAGE, max_concurrent=2)
    gate = threading.Event()
    try:
        first = demos.submit("volumes", user="U1", on_progress=lambda run: gate.wait(timeout=HANG_GUARD_S))
        second = demos.submit("volumes", user="U2", on_progress=lambda run: gate.wait(timeout=HANG_GUARD_S))
        with pytest.raises(DemoBusy):
            demos.submit("stateless", user="U3")
        with pytest.raises(DemoBusy):
            demos.submit("stateless", user="U1")
        gate.set()
        runs = [first.result(timeout=HANG_GUARD_S), second.result(timeout=HANG_GUARD_S)]
        # Same scenario, same alias "data", at the same time: unique real names, both succeed.
        assert all(run.ok for run in runs), [run.to_json() for run in runs]
        assert runs[0].run_id != runs[1].run_id
        for run in runs:
            assert left_by_run(api, run.run_id) == []
        after = demos.submit("stateless", user="U3").result(timeout=HANG_GUARD_S)
        assert after.ok
    finally:
        gate.set()
        demos.close()


def test_gc_never_touches_a_run_in_progress_in_another_process(api, tmp_path):
    """A live demo of another process (alive, not expired) survives `dockbot gc`."""
    scenario = scenario_dir(tmp_path, HANGING.format(demo=60, step=2))["hang"]
    result: dict = {}

    def gc_while_running(run):
        if len(run.steps) == 1:  # the volume exists, the sleeper is about to start
            result["gc"] = dockbot("gc")
            result["left"] = objects(api, f"{LABEL}={run.run_id}")

    run = run_scenario(api, scenario, image=IMAGE, on_progress=gc_while_running, cancel=None)
    assert result["gc"].returncode == 0
    assert result["left"] == [f"volume dockbot-{run.run_id}-data"]  # not swept from under the run
    assert left_by_run(api, run.run_id) == []


# --- a real engine stopped mid-demo (a test-owned second dockerd) -----------------------------------------


@pytest.fixture
def second_engine(api):
    """A test-owned dockerd in its own network namespace (tests/second_engine.py), with the demo image."""
    reason = unavailable_reason()
    if reason:
        pytest.skip(f"{reason} (the engine cut is covered by the proxy test)")
    engine = SecondEngine.create()
    try:
        engine.start()
        engine.load_image(api, IMAGE)
    except (RuntimeError, docker.errors.DockerException) as exc:
        engine.close()
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true but the test-owned dockerd did not start: {exc}")
        pytest.skip(f"the test-owned dockerd did not start: {exc}")
    yield engine
    engine.close()


def host_has_default_bridge() -> bool:
    return Path("/sys/class/net/docker0").exists()


def test_engine_really_stopping_mid_demo_then_restarting_leaves_nothing(second_engine):
    client = docker.APIClient(base_url=second_engine.host, timeout=10)

    def stop_after_writer(run):
        if len(run.steps) == 2:
            second_engine.stop()

    run = run_scenario(client, SCENARIOS["volumes"], image=IMAGE, on_progress=stop_after_writer)
    assert not run.ok and run.finished and "Docker 엔진" in run.error
    assert "Traceback" not in run.error
    bridge_before = host_has_default_bridge()
    second_engine.start()
    # Its own network namespace: starting it with --bridge=none left the main engine's docker0 alone.
    assert host_has_default_bridge() == bridge_before
    client = docker.APIClient(base_url=second_engine.host, timeout=10)
    left = objects(client, f"{LABEL}={run.run_id}")
    assert f"container /dockbot-{run.run_id}-writer" in left  # the stop really left the run's objects behind
    done = dockbot("gc", env={"DOCKER_HOST": second_engine.host})
    assert done.returncode == 0, done.stderr
    assert f"dockbot-{run.run_id}-writer" in done.stdout
    assert objects(client, LABEL) == []
    client.close()


def test_sigkill_during_the_bind_mount_demo_gc_also_removes_its_host_dir(api, spawn):
    def local_dirs() -> set[Path]:
        return set(Path(tempfile.gettempdir()).glob("dockbot-*-*"))

    before = local_dirs()
    pid = start_and_kill_mid_demo(spawn, "bind-mount")
    owner = f"{OWNER_LABEL}={socket.gethostname()}:{pid}"
    left = objects(api, owner)
    # The host directory lives on the engine's host (a labelled volume and its never-started editor), so a
    # remote demo host works and a crash leaves nothing on the bot's own filesystem.
    assert any(item.startswith("volume dockbot-") and item.endswith("-hostdir") for item in left), left
    assert local_dirs() == before
    done = dockbot("gc")
    assert done.returncode == 0, done.stderr
    assert "-hostdir" in done.stdout
    assert objects(api, owner) == []
