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
import socket
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

import docker
import requests
from docker.types import Mount

from bot.demos.engine import known_writable_paths
from bot.demos.hostdir import (
    DEMO_USER,
    EDITOR_ROLE,
    EDITOR_TARGET,
    ROLE_LABEL,
    EngineHostDir,
    image_writable_paths,
    writable_root_tar,
)
from bot.demos.lockdown import LockdownViolation, check_lockdown, host_config_options
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


def lockdown_host_config(api: docker.APIClient, *, network_mode: str, mounts: list[Mount]) -> dict[str, Any]:
    """The only host config a demo container ever gets (the policy: bot/demos/lockdown.py)."""
    return api.create_host_config(**host_config_options(network_mode=network_mode, mounts=mounts))


class DemoContext:
    """What steps may do, and nothing more; owns names, labels, the host directory and the run's cleanup."""

    def __init__(self, api: docker.APIClient, image: str, run_id: str, expires: float):
        self.api = api
        self.image = image
        self.run_id = run_id
        self.labels = {LABEL: run_id, OWNER_LABEL: owner_id(), EXPIRES_LABEL: str(int(expires))}
        self._volumes: dict[str, str] = {}  # alias -> real name
        self._networks: dict[str, str] = {}
        self._containers: dict[str, str] = {}
        self._writable_volumes: set[str] = set()
        self._image_writable: frozenset[str] | None = None  # read from the image on first need
        self._host_dir = EngineHostDir(
            api,
            image=image,
            volume=self.real_name("hostdir"),
            editor=self.real_name("hostdir-editor"),
            labels=self.labels,
            editor_config=self._editor_config,
            image_writable=self._image_writable_paths,
        )
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
        self.api.create_network(real, driver="bridge", internal=True, labels=self.labels)
        self._networks[alias] = real

    def remove_network(self, alias: str) -> None:
        self.api.remove_network(self._networks.pop(alias, self.real_name(alias)))

    def list_volumes(self) -> list[str]:
        found = self.api.volumes(filters=self._label_filter()).get("Volumes") or []
        names = (self.friendly(v["Name"]) for v in found if v["Name"] != self._host_dir.volume)
        return sorted(names, key=lambda name: (len(name) > 30, name))

    def list_containers(self) -> list[str]:
        found = self.api.containers(all=True, filters=self._label_filter())
        shown = (c for c in found if (c.get("Labels") or {}).get(ROLE_LABEL) != EDITOR_ROLE)
        return sorted(self.friendly((c.get("Names") or ["?"])[0]) for c in shown)

    def remove_anonymous_volumes(self) -> list[str]:
        named = {*self._volumes.values(), self._host_dir.volume}
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
            return Mount(spec.target, self.host_dir(), type="bind", read_only=spec.read_only)
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
        check_lockdown(host_config, allowed_networks=self._networks.values(), host_dir=self._host_dir_path())
        networking = None
        if network:
            endpoint = self.api.create_endpoint_config(aliases=[alias])
            # docker-py takes {network: endpoint}; its stubs say a single EndpointConfig.
            networking = self.api.create_networking_config({network_mode: endpoint})  # type: ignore[arg-type]
        created = self.api.create_container(
            self.image,
            command=list(argv),
            name=self.real_name(alias),
            hostname=alias,
            labels=self.labels,
            host_config=host_config,
            networking_config=networking,
            user=DEMO_USER,
        )
        container = created["Id"]
        self._containers[alias] = container
        self._make_volumes_writable(container, mounts)
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

    def _make_volumes_writable(self, container: str, mounts: Iterable[MountSpec]) -> None:
        """Docker creates an empty volume's root directory root-owned 0755, unless the image has a directory
        at the mount path: then the volume takes its owner and mode (copy-up). Paths the image declares owned
        by the demo uid need nothing; any other volume is handed to the demo uid by an archive upload before
        the container starts (once per named volume; every anonymous volume is new)."""
        for spec in mounts:
            if spec.read_only or spec.type == "tempdir":
                continue
            key = self._volumes.get(spec.source or "", "") if spec.type == "volume" else ""
            if key and key in self._writable_volumes:
                continue
            if spec.target not in self._image_writable_paths():
                self.api.put_archive(container, spec.target, writable_root_tar())
            if key:
                self._writable_volumes.add(key)

    def _image_writable_paths(self) -> frozenset[str]:
        if self._image_writable is None:
            known = known_writable_paths(self.api, self.image)  # read by the pool's check before this run
            if known is None:  # a client the pool did not check (a test's, a bench's): read the image
                known = image_writable_paths(self.api.inspect_image(self.image))
            self._image_writable = known
        return self._image_writable

    def _output(self, container: str) -> bytes:
        """stdout and stderr of a stopped container."""
        return self.api.logs(container, stdout=True, stderr=True)

    def _wait(self, container: str, deadline: float) -> int:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise StepTimeout
        try:
            # A float timeout is passed on to requests as is; the stubs ask for an int.
            return int(self.api.wait(container, timeout=remaining)["StatusCode"])  # type: ignore[arg-type]
        except requests.exceptions.RequestException:
            # wait(timeout) raises ConnectionError("Read timed out"), not ReadTimeout (docker-py #1966).
            if time.monotonic() >= deadline - 0.05:
                raise StepTimeout from None
            raise

    def container_logs(self, alias: str, *, deadline: float) -> Outcome:
        """Wait for a detached container of this run to exit, then its output and exit code."""
        if alias not in self._containers:
            raise LockdownViolation(f"container {alias!r} was not started by this run")
        container = self._containers[alias]
        exit_code = self._wait(container, deadline)
        output = self._output(container)[:OUTPUT_READ_MAX]
        return Outcome(output.decode("utf-8", "replace"), exit_code)

    def remove_container(self, alias: str, *, volumes: bool, force: bool) -> None:
        self.api.remove_container(self._containers.pop(alias, self.real_name(alias)), v=volumes, force=force)

    # the per-run host directory (on the engine's host) ----------------------------------------------------
    def host_dir(self) -> str:
        """The run's host directory, on the engine's host (never a user-given path)."""
        return self._host_dir.path()

    def _editor_config(self) -> dict[str, Any]:
        mounts = [Mount(EDITOR_TARGET, self._host_dir.volume, type="volume")]
        config = lockdown_host_config(self.api, network_mode="none", mounts=mounts)
        check_lockdown(config, allowed_networks=(), host_dir=None)
        return config

    def _host_dir_path(self) -> str | None:
        return self.host_dir() if self._host_dir.created else None

    def write_host_file(self, relative: str, content: str) -> None:
        self._host_dir.write(relative, content)

    def read_host_file(self, relative: str) -> str | None:
        return self._host_dir.read(relative)

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
        run_steps(
            run,
            scenario,
            lambda step, deadline, timeout_s: _run_step(ctx, step, deadline, timeout_s, image),
            started=started,
            on_progress=on_progress,
            cancel=cancel,
        )
    except Exception as exc:  # a bug must not leak containers: log it, clean up, report
        log.exception("demo %s (run %s) failed unexpectedly", scenario.name, run_id)
        run.error = f"데모 실행 중 예상하지 못한 오류가 났습니다 ({type(exc).__name__})."
    finally:
        finish_run(run, scenario, lock, ctx.cleanup(), started=started)
    return run


def run_steps(
    run: DemoRun,
    scenario: Scenario,
    run_step: Callable[[Any, float, float], StepResult],
    *,
    started: float,
    on_progress: ProgressCallback | None,
    cancel: threading.Event | None,
) -> None:
    """The step loop of every platform's runner: `run_step(step, deadline, timeout_s)` for each step under
    its own and the demo's deadline, progress after each, stop at cancel, the deadline or a failed step."""
    demo_deadline = started + scenario.timeout_s
    for step in scenario.steps:
        if cancel is not None and cancel.is_set():
            run.error = "데모를 중간에 중단했어요 (봇 종료 또는 취소). 만든 것은 정리했어요."
            run.interrupted = True
            return
        if time.monotonic() >= demo_deadline:
            run.error = f"데모 전체 제한 시간 {scenario.timeout_s:g}초를 넘겨 중단했습니다."
            return
        step_timeout = step.timeout_s or scenario.step_timeout_s
        result = run_step(step, min(time.monotonic() + step_timeout, demo_deadline), step_timeout)
        run.steps.append(result)
        report_progress(on_progress, run)
        if result.error:
            run.error = result.error
            if time.monotonic() >= demo_deadline - 0.05:  # the demo's deadline cut the step short
                run.error = f"데모 전체 제한 시간 {scenario.timeout_s:g}초를 넘겨 중단했습니다."
            return


def finish_run(
    run: DemoRun, scenario: Scenario, lock: RunLock | None, failures: list[str], *, started: float
) -> None:
    """After the cleanup: the run is no longer live, its lock says whether leftovers remain, the result
    is final."""
    unregister_run(run.run_id)
    if lock is not None:
        lock.release(clean=not failures)  # an unlocked marker tells any sweep these leftovers are free
    if failures:
        log.warning("demo run %s: cleanup left %s (the next sweep removes them)", run.run_id, failures)
    run.duration_s = time.monotonic() - started
    run.finished = True
    run.ok = run.error is None and len(run.steps) == len(scenario.steps) and all(s.ok for s in run.steps)


def run_step(
    step: Any,
    *,
    execute: Callable[[], Any],
    image: str,
    timeout_s: float,
    run_id: str,
    api_errors: tuple[type[Exception], ...],
    describe: Callable[[Exception], str],
    api_failed_ko: str,
) -> StepResult:
    """One step of any platform's runner: `execute()` it, check its expectations, and turn a deadline, a
    lockdown refusal or an API error (`api_errors`, told by `describe`) into a Korean step error."""
    result = StepResult(title=step.title, command=step.command(image), output="")
    began = time.monotonic()
    try:
        outcome = execute()
        result.command = getattr(outcome, "command", None) or result.command  # a runner may show the real one
        result.output = truncate_output(outcome.output)
        result.expectations = step.expect.check(outcome) if step.expect else []
        result.ok = all(held for _, held in result.expectations)
    except StepTimeout:
        result.ok = False
        result.error = f"'{step.title}' 단계가 제한 시간 {timeout_s:g}초 안에 끝나지 않아 중단했습니다."
    except LockdownViolation as exc:
        log.error("demo run %s: %s", run_id, exc)
        result.ok = False
        result.error = "보안 제한에 맞지 않는 단계라서 실행하지 않았습니다."
    except api_errors as exc:
        log.warning("demo run %s: step %r failed: %s", run_id, step.title, exc)
        result.ok = False
        result.output = truncate_output(describe(exc))
        result.error = f"{api_failed_ko}: " + describe(exc)[:200]
    result.duration_s = time.monotonic() - began
    return result


def _run_step(ctx: DemoContext, step: Any, deadline: float, timeout_s: float, image: str) -> StepResult:
    return run_step(
        step,
        execute=lambda: step.execute(ctx, deadline),
        image=image,
        timeout_s=timeout_s,
        run_id=ctx.run_id,
        api_errors=ENGINE_ERRORS,
        describe=_engine_message,
        api_failed_ko="Docker 엔진 오류로 단계를 끝내지 못했습니다",
    )


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
