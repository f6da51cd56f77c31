"""DemoService logic above the runner (cap, one per user, refusals, progress), with a fake runner.

The real runner and engine are exercised in tests/test_demo_engine.py; here a fake stands in for Docker
only to control timing (a run that blocks until the test releases it).
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from bot.demos.errors import DemoBusy, DemoError, EngineUnavailable, UnknownDemo
from bot.demos.result import DemoRun, StepResult
from bot.demos.scenario import load_scenarios
from bot.demos.service import DemoService

SCENARIOS = load_scenarios(Path(__file__).resolve().parent.parent / "knowledge" / "demos")[0]


class BlockingRunner:
    """Runs a 'demo' that reports one step and then waits for `release`."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.started: list[str] = []
        self.lock = threading.Lock()

    def __call__(self, api, scenario, *, image, on_progress, cancel, run_id=None) -> DemoRun:
        with self.lock:
            self.started.append(scenario.name)
        run = DemoRun(demo=scenario.name, title=scenario.title, total_steps=len(scenario.steps))
        run.steps.append(StepResult("첫 단계", "docker volume create data", "data", [("종료 코드 0", True)]))
        if on_progress:
            on_progress(run)
        self.release.wait(timeout=30)
        run.finished, run.ok = True, not cancel.is_set()
        return run


def service(runner, *, cap=2, engine=lambda: object()) -> DemoService:
    return DemoService(
        lambda: SCENARIOS,
        image="busybox:1.36",
        max_concurrent=cap,
        engine=engine,
        runner=runner,
        sweeper=lambda api: [],
    )


def test_cap_and_one_per_user_refuse_at_once_and_free_up_after():
    runner = BlockingRunner()
    demos = service(runner, cap=2)
    try:
        first = demos.submit("volumes", user="U1")
        with pytest.raises(DemoBusy) as same_user:
            demos.submit("network", user="U1")
        assert "이미 실행 중인 데모" in same_user.value.message_ko
        second = demos.submit("network", user="U2")
        with pytest.raises(DemoBusy) as full:
            demos.submit("stateless", user="U3")
        assert "2개 실행 중" in full.value.message_ko
        runner.release.set()
        assert first.result(timeout=10).ok and second.result(timeout=10).ok
        # Both slots and both users are free again.
        third = demos.submit("stateless", user="U1")
        fourth = demos.submit("volumes", user="U3")
        assert third.result(timeout=10).ok and fourth.result(timeout=10).ok
        assert sorted(runner.started) == ["network", "stateless", "volumes", "volumes"]
    finally:
        runner.release.set()
        demos.close()


@pytest.mark.parametrize(
    "name",
    ["volumes; rm -rf /", "../../etc/passwd", "VOLUMES", "", "x" * 100_000, "vol\u200bumes", "<!channel>"],
)
def test_anything_but_a_scenario_name_is_unknown_and_nothing_runs(name):
    runner = BlockingRunner()
    demos = service(runner)
    try:
        with pytest.raises(UnknownDemo) as refused:
            demos.submit(name, user="U1")
        assert refused.value.available == sorted(SCENARIOS)
        assert "volumes" in refused.value.message_ko
        assert "<!channel>" not in refused.value.message_ko
        assert runner.started == []
    finally:
        demos.close()


def test_engine_unavailable_is_raised_at_once_and_frees_the_slot():
    def down():
        raise EngineUnavailable("Docker 엔진에 연결할 수 없습니다", "refused")

    runner = BlockingRunner()
    demos = service(runner, cap=1, engine=down)
    try:
        for _ in range(3):  # the same user again: no slot or user stays taken by a failed submit
            with pytest.raises(EngineUnavailable) as refused:
                demos.submit("volumes", user="U1")
            assert isinstance(refused.value, DemoError)
            assert refused.value.message_ko.startswith("Docker 엔진")
        assert runner.started == []
    finally:
        demos.close()


def test_progress_is_reported_and_a_broken_callback_never_blocks_the_slot():
    runner = BlockingRunner()
    demos = service(runner, cap=1)
    seen: list[int] = []
    try:
        runner.release.set()
        run = demos.run("volumes", user="U1", on_progress=lambda r: seen.append(len(r.steps)))
        assert seen == [1] and run.finished
        # A runner that raises still releases the user and the slot.

        def crashing(api, scenario, **_):
            raise RuntimeError("bug")

        broken = service(crashing, cap=1)
        with pytest.raises(RuntimeError):
            broken.submit("volumes", user="U1").result(timeout=10)
        assert broken.submit("volumes", user="U1").exception(timeout=10) is not None
        broken.close()
    finally:
        demos.close()


def test_scenarios_are_listed_by_name_and_follow_the_source():
    source = {"volumes": SCENARIOS["volumes"]}
    demos = DemoService(
        lambda: source, image="busybox:1.36", engine=lambda: object(), runner=BlockingRunner()
    )
    try:
        assert [s.name for s in demos.scenarios()] == ["volumes"]
        source["network"] = SCENARIOS["network"]  # a knowledge reload swaps the mapping the service reads
        assert [s.name for s in demos.scenarios()] == ["network", "volumes"]
    finally:
        demos.close()
