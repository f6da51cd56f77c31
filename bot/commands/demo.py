"""`dockbot demo NAME | --list | NAME --json` and `dockbot gc`.

Exit codes: 0 every expectation held (or a list was asked for) · 1 the demo ran but something did not hold
or a step failed · 2 no such demo (the list is shown, nothing runs) · 3 the Docker engine or demo image is
unavailable (a Korean message, no traceback).

Live progress: on a terminal, rich shows a spinner with the running step and its elapsed time while the
finished steps scroll above it (a demo step can take seconds and silence looks like a hang). When stdout is
not a terminal (pipes, CI, benches) rich is not even imported and each step is printed as plain text.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import sys
import threading
from typing import TYPE_CHECKING, TextIO

from bot.brain import build_demo_service
from bot.config import Settings
from bot.demos.errors import DemoError, EngineUnavailable, UnknownDemo
from bot.demos.result import DemoRun, StepResult
from bot.demos.scenario import Scenario, is_plain_name, load_scenario_files, load_scenarios
from bot.demos.service import DemoService

if TYPE_CHECKING:
    from bot.store import Store

log = logging.getLogger(__name__)

EXIT_OK, EXIT_FAILED, EXIT_UNKNOWN, EXIT_ENGINE = 0, 1, 2, 3
# The longest the terminal stays silent after a demo started (see _run_live).
FIRST_OUTPUT_WAIT_S = 0.3


def _service(settings: Settings, name: str | None) -> tuple[DemoService, list[str]]:
    """A service over the scenario files only (the CLI needs no matcher). For a plain NAME it reads just
    NAME.yaml when that file defines it, so a demo starts without parsing every scenario."""
    directory = settings.knowledge_dir / "demos"
    scenarios: dict[str, Scenario] = {}
    problems: list = []
    if name and is_plain_name(name):
        scenarios, problems = load_scenario_files([directory / f"{name}.yaml"])
    if name not in scenarios:
        scenarios, problems = load_scenarios(directory)
    service = build_demo_service(settings, lambda: scenarios, one_at_a_time=True)
    return service, [str(problem) for problem in problems]


def run_demo(name: str | None, *, list_only: bool = False, as_json: bool = False) -> int:
    settings = Settings.from_env()  # a malformed variable: bot/cli.py prints one line, exit 2
    service, problems = _service(settings, None if list_only else name)
    try:
        for problem in problems:
            print(f"데모 파일 문제 (dockbot validate 로 확인): {problem}", file=sys.stderr)
        if list_only or not name:
            _print_list(service.scenarios(), as_json, notice="")
            return EXIT_OK if list_only else EXIT_UNKNOWN
        try:
            scenario = service.get(name)
        except UnknownDemo as exc:
            _print_unknown(name, exc, service.scenarios(), as_json)
            return EXIT_UNKNOWN
        audit = DemoAudit(settings) if settings.db_target is not None else None
        try:
            if as_json:
                run = service.run(
                    scenario.name,
                    user="cli",
                    channel="cli",
                    on_progress=audit.begin_opening if audit is not None else None,
                )
                print(json.dumps(run.to_json(), ensure_ascii=False))
            else:
                run = _run_live(service, scenario, sys.stdout, audit)
        except DemoError as exc:
            if as_json:
                print(json.dumps(_refusal(scenario.name, exc.message_ko), ensure_ascii=False))
            else:
                print(exc.message_ko, file=sys.stderr)
            return EXIT_ENGINE if isinstance(exc, EngineUnavailable) else EXIT_FAILED
        if audit is not None:
            audit.record(run)
        return EXIT_OK if run.ok else EXIT_FAILED
    finally:
        service.close()


class DemoAudit:
    """The demo audit row of `dockbot demo` in the store at DOCKBOT_DB (chat and Slack write theirs through
    Brain.record_demo): user = the OS user, channel = "cli". SQLite is opened on its own thread once the
    first step is done, while the engine works, so the demo never waits for it."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._store: Store | None = None
        self._opener = threading.Thread(target=self._open, name="demo-audit", daemon=True)

    def begin_opening(self, _run: object = None) -> None:
        """Start opening the store (idempotent; fits as an on_progress callback)."""
        if self._opener.ident is None:
            self._opener.start()

    def _open(self) -> None:
        try:
            from bot.database import open_store

            target = self._settings.db_target
            if target is None:
                return
            self._store = open_store(target, retention_days=self._settings.retention_days)
        except Exception as exc:  # the audit must never break a demo (and prints no traceback)
            log.warning("could not open the store for the demo audit: %s", exc)

    def record(self, run: DemoRun) -> None:
        self.begin_opening()  # a run that ended before its first step still gets its row
        self._opener.join()
        if self._store is None:
            return
        try:
            self._store.record_demo(
                user=os_user(),
                channel="cli",
                scenario=run.demo,
                ok=run.ok,
                duration_s=run.duration_s,
                error=run.error,
            )
        finally:
            self._store.close()


def os_user() -> str:
    """Who ran `dockbot demo`: the login name, or the uid where there is none (a container's user)."""
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry and no USER/LOGNAME
        return f"uid {os.getuid()}"


def run_gc() -> int:
    settings = Settings.from_env()  # a malformed variable: bot/cli.py prints one line, exit 2
    service = build_demo_service(settings, dict, one_at_a_time=True)
    removed: list[str] = []
    unavailable = False
    # The Docker engine always; the Kubernetes demo cluster too when one is configured (DOCKBOT_KUBECONFIG).
    sweeps = [service.gc] + ([lambda: service.gc_platform("kubernetes")] if settings.kubeconfig else [])
    try:
        for sweep in sweeps:
            try:
                removed += sweep()
            except EngineUnavailable as exc:
                print(exc.message_ko, file=sys.stderr)
                unavailable = True
    finally:
        service.close()
    for item in removed:
        print(f"삭제: {item}")
    if unavailable and not removed:
        return EXIT_ENGINE
    print(
        f"데모가 남긴 객체 {len(removed)}개를 지웠습니다." if removed else "남아 있는 데모 객체가 없습니다."
    )
    return EXIT_ENGINE if unavailable else EXIT_OK


def _refusal(name: str, message: str) -> dict:
    return {"demo": name, "ok": False, "steps": [], "duration_s": 0.0, "error": message}


def _print_list(scenarios: list[Scenario], as_json: bool, *, notice: str) -> None:
    if as_json:
        listing = [
            {"name": s.name, "title": s.title, "entry": s.entry, "platform": s.platform} for s in scenarios
        ]
        print(json.dumps({"demos": listing}, ensure_ascii=False))
    else:
        from bot.render import render_text

        print(render_text("demo_catalog.txt.j2", demos=scenarios, notice=notice))


def _print_unknown(name: str, exc: UnknownDemo, scenarios: list[Scenario], as_json: bool) -> None:
    if as_json:
        payload = _refusal(name[:80], exc.message_ko)
        payload["available"] = [s.name for s in scenarios]
        print(json.dumps(payload, ensure_ascii=False))
        return
    # Never echo the raw input back verbatim: it may be long or full of control characters.
    shown = "".join(ch for ch in name[:40] if ch.isprintable())
    from bot.render import render_text

    print(render_text("demo_catalog.txt.j2", demos=scenarios, notice=f"'{shown}' 라는 데모는 없습니다."))


def _run_live(
    service: DemoService, scenario: Scenario, out: TextIO, audit: DemoAudit | None = None
) -> DemoRun:
    """Start the run first (engine trouble is reported before anything else is printed), then render its
    progress here in the main thread: the worker only queues snapshots and never waits for the terminal."""
    updates: queue.SimpleQueue[list[StepResult] | None] = queue.SimpleQueue()
    first_step_done = threading.Event()

    def progress(run: DemoRun) -> None:
        updates.put(list(run.steps))
        first_step_done.set()
        if audit is not None:
            audit.begin_opening()

    future = service.submit(scenario.name, user="cli", channel="cli", on_progress=progress)

    def finished(_: object) -> None:
        updates.put(None)
        first_step_done.set()

    future.add_done_callback(finished)
    try:
        # Import jinja2 (~20 ms of CPU, holding the GIL) only once the worker's first requests are out and
        # the engine is busy: right after the first step, or after a moment if that step is a slow one.
        first_step_done.wait(FIRST_OUTPUT_WAIT_S)
        from bot.render import render_text

        header = DemoRun(
            demo=scenario.name,
            title=scenario.title,
            explanation=scenario.explanation,
            platform=scenario.platform,
        )
        out.write(render_text("demo_header.txt.j2", run=header) + "\n\n")
        out.flush()
        total = len(scenario.steps)

        def step_text(steps: list[StepResult]) -> str:
            return render_text("demo_step.txt.j2", step=steps[-1], number=len(steps), total=total)

        if out.isatty():
            _show_with_spinner(updates, scenario, step_text)
        else:
            while (steps := updates.get()) is not None:
                out.write(step_text(steps) + "\n")
                out.flush()
        run = future.result()
    except KeyboardInterrupt:
        service.cancel()
        run = future.result()
    from bot.render import render_text

    out.write("\n" + render_text("demo_footer.txt.j2", run=run) + "\n")
    return run


def _show_with_spinner(updates: queue.SimpleQueue, scenario: Scenario, step_text) -> None:
    from rich.console import Console
    from rich.text import Text

    console = Console(highlight=False)
    total = len(scenario.steps)

    def label(done: int) -> Text:
        if done >= total:
            return Text("정리하는 중…")
        return Text(f"[{done + 1}/{total}] {scenario.steps[done].title} 실행 중…")

    with console.status(label(0), spinner="dots") as status:
        while (steps := updates.get()) is not None:
            console.print(Text(step_text(steps)))  # Text: demo output is never parsed as rich markup
            status.update(label(len(steps)))
