"""DemoService: what the doors (CLI, terminal chat, Slack) call to run demos.

- `submit(name, user=, channel=, on_progress=)` returns a Future[DemoRun] running on the service's own worker
  pool, or raises at once: `UnknownDemo`, `DemoBusy` (the host is at its cap, DOCKBOT_MAX_DEMOS, default 2, or
  this user already runs one: a friendly refusal, never an unbounded queue), `EngineUnavailable`.
- `run(...)`: the blocking equivalent. `gc()`: sweep leftovers by label on every engine, returns what went.
- Every run starts with a sweep of what earlier runs left behind (crashes, SIGKILL, engine restarts).
- Slots (bot/demos/slots.py): `acquire_slot(user, kind=, host=)` / `release_slot(slot)` are the generic cap
  and one-run-per-user, in this process or (after `share_slots(store)`) across replicas with leases renewed
  in the background; `register_sweeper(kind, fn)` says how to remove a dead replica's run of a kind.
- Engines (bot/demos/engine_pool.py): DOCKER_HOST may list several; a run goes to the least busy healthy one.
- Platforms: scenarios with `platform: kubernetes` run on the cluster in DOCKBOT_KUBECONFIG
  (bot/demos/kube_cluster.KubePlatform), with slots of their own kind on the same board.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Protocol

from bot.demos.engine_pool import EnginePool
from bot.demos.errors import DemoError, EngineUnavailable, UnknownDemo
from bot.demos.result import DemoRun, ProgressCallback
from bot.demos.scenario import Scenario, is_plain_name
from bot.demos.slots import LocalSlots, SharedSlots, Slot, Slots, Sweeper

if TYPE_CHECKING:
    from bot.config import DockerHost, Settings
    from bot.store import Store

log = logging.getLogger(__name__)

# (api, scenario, image=, on_progress=, cancel=, run_id=) -> DemoRun; the real one is runner.run_scenario.
Runner = Callable[..., DemoRun]
DOCKER = "docker"  # the slot kind of these demos


class Platform(Protocol):
    """Where scenarios of a platform other than Docker run (bot/demos/kube_cluster.KubePlatform). Its name
    is the slot kind of its runs; `host` says where a run's objects live (for whoever sweeps a dead run).
    `connect()` returns a checked client or raises an EngineUnavailable with a Korean message."""

    name: str
    host: str

    @property
    def configured(self) -> bool: ...  # False: no cluster was given (its demos are refused in Korean)

    def connect(self) -> Any: ...

    def run(
        self,
        api: Any,
        scenario: Scenario,
        *,
        on_progress: ProgressCallback | None,
        cancel: threading.Event,
        run_id: str,
    ) -> DemoRun: ...

    def sweep(self, api: Any) -> list[str]: ...

    def sweep_run(self, run_id: str) -> bool: ...

    def close(self) -> None: ...


def platforms_from_settings(settings: Settings) -> dict[str, Platform]:
    """The non-Docker platforms (only Kubernetes today); nothing is imported or contacted here."""
    from bot.demos.kube_cluster import KubePlatform

    return {
        "kubernetes": KubePlatform(
            settings.kubeconfig,
            context=settings.kube_context,
            image=settings.demo_image,
            pull_policy=settings.kube_pull_policy,
        )
    }


class DemoService:
    """Runs demos with a concurrency cap. `engine` returns a connected docker APIClient or raises
    EngineUnavailable; `runner` executes one scenario. Both are injectable so the logic above the runner
    can be unit-tested; by default they are the real docker SDK ones."""

    def __init__(
        self,
        scenarios: Callable[[], Mapping[str, Scenario]],
        *,
        image: str,
        max_concurrent: int = 2,
        engine: Callable[[], Any] | None = None,
        runner: Runner | None = None,
        sweeper: Callable[[Any], list[str]] | None = None,
        hosts: tuple[DockerHost, ...] = (),
        lease_s: float = 30.0,
        sweep_every_s: float = 15.0,
        platforms: Mapping[str, Platform] | None = None,
    ):
        self._scenarios = scenarios
        self.image = image
        self.max_concurrent = max_concurrent
        self._runner = runner
        self._sweeper = sweeper
        self._platforms = dict(platforms or {})
        self._engines = EnginePool(
            hosts,
            image=image,
            factory=(lambda _environment: engine()) if engine is not None else None,
            checks=engine is None,
        )
        self._slots: Slots = LocalSlots()
        self._lease_s = lease_s
        self._sweep_every_s = sweep_every_s
        self._cancel = threading.Event()
        self._pool = ThreadPoolExecutor(max_workers=max_concurrent, thread_name_prefix="dockbot-demo")

    # slots (generic: Docker demos here, other kinds of demos through the same board) ---------------------
    def share_slots(self, store: Store) -> None:
        """Take slots in the shared database from now on, and sweep runs of replicas that died."""
        shared = SharedSlots(store, lease_s=self._lease_s, sweep_every_s=self._sweep_every_s)
        shared.register_sweeper(DOCKER, self._sweep_run)
        for kind, platform in self._platforms.items():
            shared.register_sweeper(kind, _run_sweeper(platform))
        self._slots = shared

    def register_sweeper(self, kind: str, sweeper: Sweeper) -> None:
        """How to remove a dead replica's run of `kind` (only needed with shared slots)."""
        if isinstance(self._slots, SharedSlots):
            self._slots.register_sweeper(kind, sweeper)

    def acquire_slot(self, user: str, *, kind: str = DOCKER, host: str = "", cap: int | None = None) -> Slot:
        """One of `cap` (default DOCKBOT_MAX_DEMOS) slots of `kind`; DemoBusy (Korean) when none is free,
        this user already runs a demo of any kind, or the shared database cannot be asked."""
        return self._slots.acquire(kind=kind, user=user, host=host, cap=cap or self.max_concurrent)

    def release_slot(self, slot: Slot) -> None:
        self._slots.release(slot)

    # scenarios -------------------------------------------------------------------------------------------
    def scenarios(self) -> list[Scenario]:
        return sorted(self._scenarios().values(), key=lambda scenario: scenario.name)

    def get(self, name: object) -> Scenario:
        """The scenario called `name`; UnknownDemo for anything else (also non-names like `a; rm -rf /`)."""
        scenarios = self._scenarios()
        if not isinstance(name, str) or not is_plain_name(name) or name not in scenarios:
            raise UnknownDemo(str(name)[:80], sorted(scenarios))
        return scenarios[name]

    # running ---------------------------------------------------------------------------------------------
    def submit(
        self, name: str, *, user: str = "", channel: str = "", on_progress: ProgressCallback | None = None
    ) -> Future[DemoRun]:
        scenario = self.get(name)
        platform = self._platform(scenario)
        if platform is None:
            host = self._engines.pick(self._slots.load(DOCKER))
            slot = self.acquire_slot(user, host=host)
        else:
            host = platform.host
            slot = self.acquire_slot(user, kind=platform.name, host=host)
        try:
            api = self._engines.connect(host) if platform is None else platform.connect()
            future = self._pool.submit(self._execute, api, scenario, on_progress, slot.run_id)
        except BaseException:
            self.release_slot(slot)
            raise
        future.add_done_callback(lambda _: self.release_slot(slot))
        log.info(
            "demo %s (run %s) started for user=%s channel=%s on %s",
            scenario.name,
            slot.run_id,
            user,
            channel,
            host,
        )
        return future

    def run(
        self, name: str, *, user: str = "", channel: str = "", on_progress: ProgressCallback | None = None
    ) -> DemoRun:
        """Blocking `submit`. Ctrl-C cancels between steps and still cleans up before returning."""
        future = self.submit(name, user=user, channel=channel, on_progress=on_progress)
        try:
            return future.result()
        except KeyboardInterrupt:
            self._cancel.set()
            return future.result()

    def cancel(self) -> None:
        """Stop every run of this service after its current step (cleanup still runs)."""
        self._cancel.set()

    def gc(self) -> list[str]:
        """Remove every demo container, volume and network no live run uses, on every engine; raises
        EngineUnavailable when no engine answers (one that does not is named in the log)."""
        removed: list[str] = []
        reachable = 0
        last_error: EngineUnavailable | None = None
        for name, api in self._engines.connected():
            if isinstance(api, EngineUnavailable):
                log.warning("gc: engine %s unavailable: %s", name, api)
                last_error = api
                continue
            reachable += 1
            prefix = f"{name}: " if len(self._engines.names) > 1 else ""
            removed += [prefix + item for item in self._sweep(api)]
        if not reachable and last_error is not None:
            raise last_error
        return removed

    def gc_platform(self, name: str) -> list[str]:
        """Sweep one other platform's leftovers (e.g. "kubernetes"); raises its EngineUnavailable."""
        platform = self._platforms[name]
        return platform.sweep(platform.connect())

    def sweep_in_background(self) -> threading.Thread:
        """Sweep what earlier processes left (a SIGKILLed `serve`, a crash) without waiting for the next
        demo; a server calls this at start. Engine trouble is one log line: the next demo or `gc` retries."""

        def sweep_now() -> None:
            sweeps: list[tuple[str, Callable[[], list[str]]]] = [(DOCKER, self.gc)]
            sweeps += [
                (name, functools.partial(self.gc_platform, name))
                for name, platform in self._platforms.items()
                if platform.configured
            ]
            for kind, sweep in sweeps:
                try:
                    removed = sweep()
                except DemoError as exc:
                    log.warning("start-up %s demo sweep skipped: %s", kind, exc)
                    continue
                except Exception:
                    log.exception("start-up %s demo sweep failed", kind)
                    continue
                if removed:
                    log.info(
                        "start-up %s demo sweep removed %d leftovers of earlier runs", kind, len(removed)
                    )

        thread = threading.Thread(target=sweep_now, name="demo-startup-sweep", daemon=True)
        thread.start()
        return thread

    def close(self) -> None:
        self._cancel.set()
        self._slots.close()
        self._pool.shutdown(wait=True)
        self._engines.close()
        for platform in self._platforms.values():
            platform.close()

    # internals -------------------------------------------------------------------------------------------
    def _sweep_run(self, slot: Slot) -> bool:
        """Remove every object of one run (a dead replica's) on its engine; True when nothing is left."""
        from bot.demos.cleanup import sweep_run

        return sweep_run(self._engines.connect(slot.host), slot.run_id)

    def _platform(self, scenario: Scenario) -> Platform | None:
        """None for Docker scenarios; the platform object for the others."""
        platform = getattr(scenario, "platform", DOCKER)
        if platform == DOCKER:
            return None
        if platform not in self._platforms:
            raise EngineUnavailable(
                "이 데모를 실행할 환경이 이 봇에 설정되어 있지 않습니다.",
                f"no {platform} platform configured",
            )
        return self._platforms[platform]

    def _sweep_quietly(self, api: Any, platform: Platform | None = None) -> None:
        try:
            self._sweep(api) if platform is None else platform.sweep(api)
        except Exception:  # a failed sweep must never fail a demo; the next start or `dockbot gc` retries
            log.exception("demo sweep failed")

    def _sweep(self, api: Any) -> list[str]:
        if self._sweeper is not None:
            return self._sweeper(api)
        from bot.demos.cleanup import sweep

        return sweep(api)

    def _execute(
        self, api: Any, scenario: Scenario, on_progress: ProgressCallback | None, run_id: str
    ) -> DemoRun:
        # The sweep of earlier leftovers runs beside the demo, not before it: it only touches objects of runs
        # that are not in progress (checked per object), so it cannot race with this run. It starts once the
        # first step is done, so that its requests and its JSON do not delay the run's first requests.
        platform = self._platform(scenario)
        sweeper = threading.Thread(
            target=self._sweep_quietly, args=(api, platform), name="demo-sweep", daemon=True
        )

        def progress(run: DemoRun) -> None:
            if sweeper.ident is None:
                sweeper.start()
            if on_progress is not None:
                on_progress(run)

        try:
            if platform is not None:
                return platform.run(api, scenario, on_progress=progress, cancel=self._cancel, run_id=run_id)
            from bot.demos.runner import run_scenario

            runner = self._runner or run_scenario
            return runner(
                api, scenario, image=self.image, on_progress=progress, cancel=self._cancel, run_id=run_id
            )
        finally:
            if sweeper.ident is None:  # the run ended before its first step did
                sweeper.start()
            sweeper.join(timeout=30)  # a short-lived process (the CLI) must not exit mid-sweep


def _run_sweeper(platform: Platform) -> Sweeper:
    """Removes a dead replica's run on `platform` (the slot names the run)."""
    return lambda slot: platform.sweep_run(slot.run_id)
