"""DemoService: what the doors (CLI, terminal chat, Slack) call to run demos.

- `submit(name, user=, channel=, on_progress=)` returns a Future[DemoRun] running on the service's own worker
  pool, or raises at once: `UnknownDemo`, `DemoBusy` (the host is at its cap, DOCKBOT_MAX_DEMOS, default 2, or
  this user already runs one: a friendly refusal, never an unbounded queue), `EngineUnavailable`.
- `run(...)`: the blocking equivalent. `gc()`: sweep leftovers by label, returns what was removed.
- Every run starts with a sweep of what earlier runs left behind (crashes, SIGKILL, engine restarts).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Protocol

from bot.demos.errors import DemoBusy, EngineUnavailable, UnknownDemo
from bot.demos.result import DemoRun, ProgressCallback
from bot.demos.scenario import Scenario, is_plain_name

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.live_knowledge import LiveKnowledge

log = logging.getLogger(__name__)

# (api, scenario, image=, on_progress=, cancel=) -> DemoRun; the real one is bot.demos.runner.run_scenario.
Runner = Callable[..., DemoRun]


class Platform(Protocol):
    """Where scenarios of another platform than Docker run (bot/demos/kube_cluster.KubePlatform):
    `connect()` returns a checked client or raises an EngineUnavailable; `run` and `sweep` like the Docker
    runner and sweeper. The cap and the per-user rule of the service apply to every platform together."""

    def connect(self) -> Any: ...

    def run(
        self, api: Any, scenario: Scenario, *, on_progress: ProgressCallback | None, cancel: threading.Event
    ) -> DemoRun: ...

    def sweep(self, api: Any) -> list[str]: ...

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
        platforms: Mapping[str, Platform] | None = None,
    ):
        self._scenarios = scenarios
        self.image = image
        self.max_concurrent = max_concurrent
        self._engine_factory = engine
        self._runner = runner
        self._sweeper = sweeper
        self._platforms = dict(platforms or {})
        self._lock = threading.Lock()
        self._running = 0
        self._users: set[str] = set()
        self._api: Any = None
        self._image_ready = False
        self._cancel = threading.Event()
        self._pool = ThreadPoolExecutor(max_workers=max_concurrent, thread_name_prefix="dockbot-demo")

    @classmethod
    def from_settings(cls, settings: Settings, knowledge: LiveKnowledge) -> DemoService:
        """Scenarios come from the live knowledge base, so a reload also updates the demos."""
        return cls(
            lambda: knowledge.current.kb.scenarios,
            image=settings.demo_image,
            max_concurrent=settings.max_concurrent_demos,
            platforms=platforms_from_settings(settings),
        )

    # scenarios -------------------------------------------------------------------------------------------
    def scenarios(self) -> list[Scenario]:
        return sorted(self._scenarios().values(), key=lambda scenario: scenario.name)

    def get(self, name: object) -> Scenario:
        """The scenario called `name`; UnknownDemo for anything else (also non-names like `a; rm -rf /`)."""
        scenarios = self._scenarios()
        if not is_plain_name(name) or name not in scenarios:
            raise UnknownDemo(str(name)[:80], sorted(scenarios))
        return scenarios[name]

    # running ---------------------------------------------------------------------------------------------
    def submit(
        self, name: str, *, user: str = "", channel: str = "", on_progress: ProgressCallback | None = None
    ) -> Future[DemoRun]:
        scenario = self.get(name)
        with self._lock:
            if user in self._users:
                raise DemoBusy(
                    "이미 실행 중인 데모가 있습니다. 그 데모가 끝난 뒤에 다시 시도해 주세요.",
                    f"user {user} busy",
                )
            if self._running >= self.max_concurrent:
                raise DemoBusy(
                    f"지금은 데모가 {self.max_concurrent}개 실행 중이라 더 시작할 수 없습니다. "
                    "잠시 뒤에 다시 시도해 주세요.",
                    "demo host at capacity",
                )
            self._running += 1
            self._users.add(user)
        try:
            api = self._connected_for(scenario)
            future = self._pool.submit(self._execute, api, scenario, on_progress)
        except BaseException:
            self._release(user)
            raise
        future.add_done_callback(lambda _: self._release(user))
        log.info("demo %s started for user=%s channel=%s", scenario.name, user, channel)
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
        """Remove every demo container, volume and network no live run uses; raises EngineUnavailable."""
        return self._sweep(self._connected())

    def gc_platform(self, name: str) -> list[str]:
        """Sweep one other platform's leftovers (e.g. "kubernetes"); raises its EngineUnavailable."""
        platform = self._platforms[name]
        return platform.sweep(platform.connect())

    def close(self) -> None:
        self._cancel.set()
        self._pool.shutdown(wait=True)
        if self._api is not None and hasattr(self._api, "close"):
            self._api.close()
        for platform in self._platforms.values():
            platform.close()

    # internals -------------------------------------------------------------------------------------------
    def _release(self, user: str) -> None:
        with self._lock:
            self._running -= 1
            self._users.discard(user)

    def _platform(self, scenario: Scenario) -> Platform | None:
        """None for Docker scenarios; the platform object for the others."""
        platform = getattr(scenario, "platform", "docker")
        if platform == "docker":
            return None
        if platform not in self._platforms:
            raise EngineUnavailable(
                "이 데모를 실행할 환경이 이 봇에 설정되어 있지 않습니다.",
                f"no {platform} platform configured",
            )
        return self._platforms[platform]

    def _connected_for(self, scenario: Scenario) -> Any:
        platform = self._platform(scenario)
        return self._connected() if platform is None else platform.connect()

    def _connected(self) -> Any:
        """A client that answered a ping just now, with the demo image present (pulled once if needed)."""
        from bot.demos import engine

        with self._lock:
            api = self._api
        if api is None:
            api = (self._engine_factory or engine.connect_engine)()
        elif self._engine_factory is None:
            try:
                engine.ping(api)
            except EngineUnavailable:
                api = engine.connect_engine()  # the engine may have restarted: one fresh try
        with self._lock:
            self._api = api
        if not self._image_ready and self._engine_factory is None:
            engine.ensure_image(api, self.image)
            self._image_ready = True
        return api

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

    def _execute(self, api: Any, scenario: Scenario, on_progress: ProgressCallback | None) -> DemoRun:
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
                return platform.run(api, scenario, on_progress=progress, cancel=self._cancel)
            from bot.demos.runner import run_scenario

            runner = self._runner or run_scenario
            return runner(api, scenario, image=self.image, on_progress=progress, cancel=self._cancel)
        finally:
            if sweeper.ident is None:  # the run ended before its first step did
                sweeper.start()
            sweeper.join(timeout=30)  # a short-lived process (the CLI) must not exit mid-sweep
