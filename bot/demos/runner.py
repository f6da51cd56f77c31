"""The locked-down runner: executes one scenario against the Docker engine through the docker SDK.

Everything a run creates is named `dockbot-<run id>-<alias>` (concurrent runs never collide) and labelled
`dockbot.demo=<run id>` plus an owner and an expiry, so bot/demos/cleanup.py can reap it after a crash.
Every container gets the same hardened host config (`lockdown_host_config`), and `check_lockdown` re-checks
the final config right before each create: the YAML vocabulary cannot ask for more, and the runner does not
trust that it didn't. Deadlines are enforced here, per step and per demo; cleanup always runs.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import docker
import requests
from docker.types import LogConfig, Mount, Ulimit

from bot.demos.operations import Mount as MountSpec
from bot.demos.operations import Outcome
from bot.demos.result import DemoRun, ProgressCallback, StepResult, truncate_output
from bot.demos.runlock import RunLock
from bot.demos.scenario import Scenario

log = logging.getLogger(__name__)

LABEL = "dockbot.demo"
OWNER_LABEL = "dockbot.owner"
EXPIRES_LABEL = "dockbot.expires"
# Objects outlive a crashed run by at most its deadline plus this; after that any sweep removes them.
EXPIRY_GRACE_S = 60
MEMORY_BYTES = 64 * 1024 * 1024
NANO_CPUS = 500_000_000
PIDS_LIMIT = 64
OUTPUT_READ_MAX = 64 * 1024
ENGINE_ERRORS = (docker.errors.DockerException, requests.exceptions.RequestException)


# Run ids in progress in this process: a sweep never touches them (see cleanup.is_stale).
_active_runs: set[str] = set()
_active_lock = threading.Lock()


def active_runs() -> frozenset[str]:
    with _active_lock:
        return frozenset(_active_runs)


def register_run(run_id: str) -> None:
    """Mark a run as in progress in this process (before it creates anything): sweeps leave it alone."""
    with _active_lock:
        _active_runs.add(run_id)


def unregister_run(run_id: str) -> None:
    with _active_lock:
        _active_runs.discard(run_id)


def owner_id() -> str:
    """Who created an object: host name and pid, so a sweep can tell a crashed run from a live one."""
    return f"{socket.gethostname()}:{os.getpid()}"


class StepTimeout(Exception):
    """A step ran past its deadline."""


class LockdownViolation(Exception):
    """A container or mount would be less locked down than every demo container must be."""


def lockdown_host_config(api: docker.APIClient, *, network_mode: str, mounts: list[Mount]) -> dict[str, Any]:
    """The only host config a demo container ever gets."""
    return api.create_host_config(
        cap_drop=["ALL"],
        security_opt=["no-new-privileges"],
        read_only=True,
        tmpfs={"/tmp": "rw,size=16m,mode=1777"},
        pids_limit=PIDS_LIMIT,
        mem_limit=MEMORY_BYTES,
        memswap_limit=MEMORY_BYTES,  # equal to mem_limit: no swap
        nano_cpus=NANO_CPUS,
        init=True,  # busybox as PID 1 ignores SIGTERM; tini makes stops and kills prompt
        ulimits=[Ulimit(name="nofile", soft=256, hard=256)],
        log_config=LogConfig(type="json-file", config={"max-size": "1m", "max-file": "1"}),
        network_mode=network_mode,
        mounts=mounts,
        privileged=False,
    )


def check_lockdown(
    host_config: dict[str, Any], *, allowed_networks: Iterable[str], tempdir: str | None
) -> None:
    """Refuse any host config that is not exactly as locked down as `lockdown_host_config` makes it."""
    problems = []
    expected = {
        "CapDrop": ["ALL"],
        "SecurityOpt": ["no-new-privileges"],
        "ReadonlyRootfs": True,
        "PidsLimit": PIDS_LIMIT,
        "Memory": MEMORY_BYTES,
        "MemorySwap": MEMORY_BYTES,
        "NanoCpus": NANO_CPUS,
        "Init": True,
    }
    for key, value in expected.items():
        if host_config.get(key) != value:
            problems.append(f"{key}={host_config.get(key)!r}")
    for key in (
        "Privileged",
        "CapAdd",
        "Devices",
        "Binds",
        "VolumesFrom",
        "PidMode",
        "IpcMode",
        "UsernsMode",
        "PortBindings",
        "Sysctls",
        "DeviceRequests",
        "Links",
        "Runtime",
    ):
        if host_config.get(key):
            problems.append(f"{key} is set")
    if host_config.get("NetworkMode") not in {"none", *allowed_networks}:
        problems.append(f"NetworkMode={host_config.get('NetworkMode')!r}")
    for mount in host_config.get("Mounts") or []:
        if mount.get("Type") == "bind" and (tempdir is None or mount.get("Source") != tempdir):
            problems.append(f"bind mount of {mount.get('Source')!r}")
        elif mount.get("Type") not in {"bind", "volume"}:
            problems.append(f"mount type {mount.get('Type')!r}")
    if problems:
        raise LockdownViolation("refusing demo container: " + ", ".join(problems))


class DemoContext:
    """What steps may do, and nothing more; owns names, labels, the temp dir and the run's cleanup."""

    def __init__(self, api: docker.APIClient, image: str, run_id: str, expires: float):
        self.api = api
        self.image = image
        self.run_id = run_id
        self.labels = {LABEL: run_id, OWNER_LABEL: owner_id(), EXPIRES_LABEL: str(int(expires))}
        self._volumes: dict[str, str] = {}  # alias -> real name
        self._networks: dict[str, str] = {}
        self._containers: dict[str, str] = {}
        self._tempdir: str | None = None
        self._unnamed = 0

    # names -----------------------------------------------------------------------------------------------
    def real_name(self, alias: str) -> str:
        return f"dockbot-{self.run_id}-{alias}"

    def friendly(self, real: str) -> str:
        prefix = f"dockbot-{self.run_id}-"
        return real.removeprefix("/").removeprefix(prefix)

    def _label_filter(self) -> dict[str, str]:
        return {"label": f"{LABEL}={self.run_id}"}

    # volumes and networks --------------------------------------------------------------------------------
    def create_volume(self, alias: str) -> None:
        real = self.real_name(alias)
        self.api.create_volume(name=real, labels=self.labels)
        self._volumes[alias] = real

    def remove_volume(self, alias: str) -> None:
        self.api.remove_volume(self._volumes.pop(alias, self.real_name(alias)))

    def create_network(self, alias: str) -> None:
        real = self.real_name(alias)
        # internal: containers on it reach each other by name but nothing outside the host.
        self.api.create_network(
            real, driver="bridge", internal=True, labels=self.labels, check_duplicate=True
        )
        self._networks[alias] = real

    def remove_network(self, alias: str) -> None:
        self.api.remove_network(self._networks.pop(alias, self.real_name(alias)))

    def list_volumes(self) -> list[str]:
        found = self.api.volumes(filters=self._label_filter()).get("Volumes") or []
        return sorted((self.friendly(v["Name"]) for v in found), key=lambda name: (len(name) > 30, name))

    def list_containers(self) -> list[str]:
        found = self.api.containers(all=True, filters=self._label_filter())
        return sorted(self.friendly((c.get("Names") or ["?"])[0]) for c in found)

    def remove_anonymous_volumes(self) -> list[str]:
        named = set(self._volumes.values())
        removed = []
        for volume in self.api.volumes(filters=self._label_filter()).get("Volumes") or []:
            if volume["Name"] not in named:
                self.api.remove_volume(volume["Name"])
                removed.append(volume["Name"])
        return removed

    # containers ------------------------------------------------------------------------------------------
    def _mount(self, spec: MountSpec) -> Mount:
        if spec.type == "volume":
            if spec.source not in self._volumes:
                raise LockdownViolation(f"volume {spec.source!r} was not created by this run")
            return Mount(spec.target, self._volumes[spec.source], type="volume", read_only=spec.read_only)
        if spec.type == "anonymous":
            # A labelled anonymous volume: `-v /path` would carry no label and escape a label sweep.
            return Mount(spec.target, None, type="volume", labels=self.labels)
        if spec.type == "tempdir":
            return Mount(spec.target, self.tempdir(), type="bind", read_only=spec.read_only)
        raise LockdownViolation(f"mount type {spec.type!r} is not allowed")

    def run_container(
        self,
        alias: str | None,
        argv: Iterable[str],
        mounts: Iterable[MountSpec],
        network: str | None,
        *,
        detach: bool,
        remove: bool,
        deadline: float,
    ) -> Outcome:
        if alias is None:
            self._unnamed += 1
            alias = f"c{self._unnamed}"
        if network is not None and network not in self._networks:
            raise LockdownViolation(f"network {network!r} was not created by this run")
        network_mode = self._networks[network] if network else "none"
        host_config = lockdown_host_config(
            self.api, network_mode=network_mode, mounts=[self._mount(spec) for spec in mounts]
        )
        check_lockdown(host_config, allowed_networks=self._networks.values(), tempdir=self._tempdir)
        networking = None
        if network:
            endpoint = self.api.create_endpoint_config(aliases=[alias])
            networking = self.api.create_networking_config({network_mode: endpoint})
        created = self.api.create_container(
            self.image,
            command=list(argv),
            name=self.real_name(alias),
            hostname=alias,
            labels=self.labels,
            host_config=host_config,
            networking_config=networking,
        )
        container = created["Id"]
        self._containers[alias] = container
        self.api.start(container)
        if detach:
            return Outcome(container[:12])
        exit_code = self._wait(container, deadline)
        output = self._output(container)[:OUTPUT_READ_MAX]
        if remove:
            # What `--rm` does: container and anonymous volumes go (docker-py's run(remove=True) leaks them).
            self.api.remove_container(container, v=True, force=True)
            self._containers.pop(alias, None)
        return Outcome(output.decode("utf-8", "replace"), exit_code)

    def _output(self, container: str) -> bytes:
        """stdout and stderr of a stopped container. One request: `api.logs()` first inspects the container
        to learn whether it has a TTY; ours never do (create_container's default), so the log stream is
        always multiplexed."""
        response = self.api._get(
            self.api._url("/containers/{0}/logs", container), params={"stdout": 1, "stderr": 1}
        )
        return self.api._get_result_tty(False, response, False)

    def _wait(self, container: str, deadline: float) -> int:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise StepTimeout
        try:
            return int(self.api.wait(container, timeout=remaining)["StatusCode"])
        except requests.exceptions.RequestException:
            # wait(timeout) raises ConnectionError("Read timed out"), not ReadTimeout (docker-py #1966).
            if time.monotonic() >= deadline - 0.05:
                raise StepTimeout from None
            raise

    def remove_container(self, alias: str, *, volumes: bool, force: bool) -> None:
        self.api.remove_container(self._containers.pop(alias, self.real_name(alias)), v=volumes, force=force)

    # the per-run host directory --------------------------------------------------------------------------
    def tempdir(self) -> str:
        """A fresh directory for this run only (never a user-given path)."""
        if self._tempdir is None:
            path = tempfile.mkdtemp(prefix=f"dockbot-{self.run_id}-")
            # Containers run as root but with cap_drop ALL (no CAP_DAC_OVERRIDE): they can only read and write
            # here if the mode allows it for "other", since the directory belongs to the bot's user.
            os.chmod(path, 0o777)
            self._tempdir = path
        return self._tempdir

    def _host_path(self, relative: str) -> Path:
        base = Path(self.tempdir()).resolve()
        path = base / relative
        # A container can create symlinks in the bind mount: never follow one out of the directory.
        parent = path.parent.resolve()
        if parent != base and base not in parent.parents:
            raise LockdownViolation(f"{relative!r} leaves the demo directory")
        return path

    def write_host_file(self, relative: str, content: str) -> None:
        current = Path(self.tempdir())
        for part in Path(relative).parts[:-1]:
            current = current / part
            if current.is_symlink():
                raise LockdownViolation(f"{relative!r} goes through a symlink")
            if not current.exists():
                current.mkdir()
                os.chmod(current, 0o777)
        path = self._host_path(relative)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o666)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            os.fchmod(handle.fileno(), 0o666)
            handle.write(content)

    def read_host_file(self, relative: str) -> str | None:
        path = self._host_path(relative)
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        except FileNotFoundError:
            return None
        with os.fdopen(fd, "rb") as handle:
            return handle.read(OUTPUT_READ_MAX).decode("utf-8", "replace")

    # cleanup ---------------------------------------------------------------------------------------------
    def cleanup(self) -> list[str]:
        """Remove everything labelled with this run id and the temp dir; returns what could not be removed."""
        failures: list[str] = []
        filters = self._label_filter()
        steps: list[tuple[str, Callable[[], list[dict]], Callable[[str], object], str]] = [
            (
                "container",
                lambda: self.api.containers(all=True, filters=filters),
                lambda ident: self.api.remove_container(ident, v=True, force=True),
                "Id",
            ),
            ("network", lambda: self.api.networks(filters=filters), self.api.remove_network, "Id"),
            (
                "volume",
                lambda: self.api.volumes(filters=filters).get("Volumes") or [],
                lambda name: self.api.remove_volume(name, force=True),
                "Name",
            ),
        ]
        for kind, listing, remove, key in steps:
            try:
                found = listing()
            except ENGINE_ERRORS as exc:
                failures.append(f"{kind}s: {exc}")
                continue
            for item in found:
                try:
                    remove(item[key])
                except docker.errors.NotFound:
                    pass
                except ENGINE_ERRORS as exc:
                    failures.append(f"{kind} {item[key]}: {exc}")
        return failures + self.remove_tempdir()

    def remove_tempdir(self) -> list[str]:
        """Delete the run's host directory (if one was made); returns what could not be deleted."""
        failures: list[str] = []
        if self._tempdir is not None:
            shutil.rmtree(
                self._tempdir, onerror=lambda *args: failures.append(f"tempdir {args[1]}: {args[2][1]}")
            )
        return failures


def new_run_id() -> str:
    return os.urandom(6).hex()  # 12 hex digits, what runlock.RUN_ID accepts


def run_scenario(
    api: docker.APIClient,
    scenario: Scenario,
    *,
    image: str,
    on_progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    run_id: str | None = None,
) -> DemoRun:
    """Run every step, check its expectations, and always clean up. Never raises for engine trouble:
    the DemoRun carries a Korean `error` instead."""
    run_id = run_id or new_run_id()
    started = time.monotonic()
    demo_deadline = started + scenario.timeout_s
    run = DemoRun(
        demo=scenario.name,
        title=scenario.title,
        conclusion=scenario.conclusion,
        explanation=scenario.explanation,
        run_id=run_id,
        total_steps=len(scenario.steps),
    )
    ctx = DemoContext(api, image, run_id, expires=time.time() + scenario.timeout_s + EXPIRY_GRACE_S)
    lock = RunLock.acquire(run_id)  # before anything exists: other processes see the run as live
    register_run(run_id)
    try:
        for step in scenario.steps:
            if cancel is not None and cancel.is_set():
                run.error = "데모가 중간에 취소되었습니다."
                break
            if time.monotonic() >= demo_deadline:
                run.error = f"데모 전체 제한 시간 {scenario.timeout_s:g}초를 넘겨 중단했습니다."
                break
            step_timeout = step.timeout_s or scenario.step_timeout_s
            result = _run_step(
                ctx, step, min(time.monotonic() + step_timeout, demo_deadline), step_timeout, image
            )
            run.steps.append(result)
            report_progress(on_progress, run)
            if result.error:
                run.error = result.error
                if time.monotonic() >= demo_deadline - 0.05:  # the demo's deadline cut the step short
                    run.error = f"데모 전체 제한 시간 {scenario.timeout_s:g}초를 넘겨 중단했습니다."
                break
    except Exception as exc:  # a bug must not leak containers: log it, clean up, report
        log.exception("demo %s (run %s) failed unexpectedly", scenario.name, run_id)
        run.error = f"데모 실행 중 예상하지 못한 오류가 났습니다 ({type(exc).__name__})."
    finally:
        failures = ctx.cleanup()
        unregister_run(run_id)
        if lock is not None:
            lock.release(clean=not failures)  # an unlocked marker tells any sweep these leftovers are free
        if failures:
            log.warning("demo run %s: cleanup left %s (the next sweep removes them)", run_id, failures)
        run.duration_s = time.monotonic() - started
        run.finished = True
        run.ok = run.error is None and len(run.steps) == len(scenario.steps) and all(s.ok for s in run.steps)
    return run


def _run_step(ctx: DemoContext, step: Any, deadline: float, timeout_s: float, image: str) -> StepResult:
    result = StepResult(title=step.title, command=step.command(image), output="")
    began = time.monotonic()
    try:
        outcome = step.execute(ctx, deadline)
        result.output = truncate_output(outcome.output)
        result.expectations = step.expect.check(outcome) if step.expect else []
        result.ok = all(held for _, held in result.expectations)
    except StepTimeout:
        result.ok = False
        result.error = f"'{step.title}' 단계가 제한 시간 {timeout_s:g}초 안에 끝나지 않아 중단했습니다."
    except LockdownViolation as exc:
        log.error("demo run %s: %s", ctx.run_id, exc)
        result.ok = False
        result.error = "보안 제한에 맞지 않는 단계라서 실행하지 않았습니다."
    except ENGINE_ERRORS as exc:
        log.warning("demo run %s: step %r failed: %s", ctx.run_id, step.title, exc)
        result.ok = False
        result.output = truncate_output(_engine_message(exc))
        result.error = "Docker 엔진 오류로 단계를 끝내지 못했습니다: " + _engine_message(exc)[:200]
    result.duration_s = time.monotonic() - began
    return result


def _engine_message(exc: Exception) -> str:
    explanation = getattr(exc, "explanation", None)
    return str(explanation or exc)


def report_progress(on_progress: ProgressCallback | None, run: DemoRun) -> None:
    if on_progress is None:
        return
    try:
        on_progress(run)
    except Exception:  # a broken renderer (e.g. Slack edit failing) must not stop the demo or its cleanup
        log.exception("demo progress callback failed")
