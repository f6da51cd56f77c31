"""Faults on the real engine: dockerd stopped in the middle of a running step (a test-owned second dockerd,
never the main engine) and started again, a step that ignores SIGTERM and spins past its deadline, a
container killed by its memory limit, and `dockbot serve` SIGKILLed mid-demo and restarted.

Every run must end with a clear result (finished, not ok, a Korean error or a failed expectation), and
afterwards nothing labelled `dockbot.demo` may remain. (The demo owner's tests in tests/test_demo_engine.py
cover the stop *between* steps, a sleeping step past its deadline and a SIGKILLed `dockbot demo`; these add
the harder variants.)
"""

from __future__ import annotations

import os
import shutil
import signal
import threading
import time

import docker
import pytest
from slack_harness import (
    REPO,
    DockbotProcess,
    FakeSlack,
    SlackSender,
    command_form,
    dockbot_env,
    free_port,
)

from tests.reliability.engines import labelled, owned_by

IMAGE = os.environ.get("DOCKBOT_DEMO_IMAGE", "busybox:1.36")
HANG_GUARD_S = 90

SLOW_WRITER = """
name: fault-slow-writer
title: 오래 걸리는 쓰기
entry: volume-basics
explanation: 엔진 장애 시험용 시나리오입니다.
conclusion: 끝까지 갔습니다.
timeout_s: 60
step_timeout_s: 30
steps:
  - op: create_volume
    title: 볼륨 data 만들기
    volume: data
  - op: run
    title: 6초 동안 쓰는 컨테이너
    container: writer
    mounts:
      - {type: volume, source: data, target: /data}
      - {type: anonymous, target: /anon}
    argv: [sh, -c, "echo hi > /data/x; echo hi > /anon/x; sleep 6; echo done"]
    expect: {exit_code: 0, contains: done}
  - op: list_volumes
    title: 볼륨 목록
"""

SPINNER = """
name: fault-spinner
title: 멈추지 않는 단계
entry: volume-basics
explanation: SIGTERM 을 무시하고 CPU 를 쓰는 단계입니다.
conclusion: 끝까지 갔습니다.
timeout_s: 30
steps:
  - op: create_volume
    title: 볼륨 data 만들기
    volume: data
  - op: run
    title: SIGTERM 을 무시하고 계속 도는 컨테이너
    container: spinner
    timeout_s: 2
    mounts:
      - {type: volume, source: data, target: /data}
      - {type: anonymous, target: /anon}
    argv: [sh, -c, "trap '' TERM INT; while :; do :; done"]
    expect: {exit_code: 0}
"""

MEMORY_HOG = """
name: fault-memory-hog
title: 메모리를 다 쓰는 단계
entry: volume-basics
explanation: 64 MiB 제한을 넘겨 쓰는 컨테이너입니다.
conclusion: 끝까지 갔습니다.
steps:
  - op: run
    title: 200 MB 를 셸 변수에 담기
    container: hog
    mounts:
      - {type: anonymous, target: /anon}
    argv: [sh, -c, "x=$(head -c 200000000 /dev/zero | tr '\\\\0' a); echo survived ${#x}"]
    expect: {exit_code: 0, contains: survived}
  - op: list_volumes
    title: 볼륨 목록
"""


def clear_result(run) -> None:
    """Finished, not ok, and the reason is shown: a Korean error or a failed step."""
    assert run.finished and not run.ok
    failed = [s for s in run.steps if not s.ok]
    assert run.error or failed
    reason = run.error or failed[0].error or ""
    assert not reason or any("\uac00" <= ch <= "\ud7a3" for ch in reason), reason
    assert "Traceback" not in (run.error or "")


@pytest.fixture
def engine_api(second_engine):
    api = second_engine.api()
    yield api
    api.close()


@pytest.mark.slow
@pytest.mark.parametrize("round_", range(3))
def test_dockerd_stopped_during_a_running_step_then_started_again(
    second_engine, scenario_from_yaml, monkeypatch, figures, round_
):
    """The bot's own DemoService on the second engine: stop dockerd 1.5 s into a 6 s step; the run ends with
    a clear result; after a restart the same service reconnects, its start sweep removes the leftovers, and
    the next demo succeeds; nothing labelled remains."""
    from bot.demos.service import DemoService

    monkeypatch.setenv("DOCKER_HOST", second_engine.host)
    scenarios = {
        "fault-slow-writer": scenario_from_yaml(SLOW_WRITER),
        "fault-after": scenario_from_yaml(
            SLOW_WRITER.replace("sleep 6", "sleep 0").replace("fault-slow-writer", "fault-after")
        ),
    }
    service = DemoService(lambda: scenarios, image=IMAGE, max_concurrent=2)
    try:
        started = threading.Event()

        def on_progress(run) -> None:
            if len(run.steps) == 1:
                started.set()

        future = service.submit("fault-slow-writer", user="UFAULT01", on_progress=on_progress)
        assert started.wait(HANG_GUARD_S)
        time.sleep(1.5)  # inside the 6 s step
        second_engine.stop()
        run = future.result(timeout=HANG_GUARD_S)
        clear_result(run)
        # The stop lands in step 2: either its wait is cut off, or the daemon kills the container on its way
        # down (step 2 ❌) and step 3 then finds no engine. Never past step 3, never ok.
        assert not run.ok and 2 <= len(run.steps) <= 3
        assert not run.steps[1].ok
        second_engine.start()
        api = second_engine.api()
        leftovers = labelled(api, run.run_id)
        after = service.run("fault-after", user="UFAULT01")
        assert after.ok, [(s.title, s.output, s.error) for s in after.steps]
        assert labelled(api) == []
        api.close()
        figures.add("faults_docker", "dockerd_stopped_mid_step")
        figures.add("faults_docker", "leftovers_swept", len(leftovers))
    finally:
        service.close()


@pytest.mark.slow
def test_a_step_ignoring_sigterm_past_its_deadline_is_killed_and_cleaned_up(
    docker_client, scenario_from_yaml, figures
):
    from bot.demos.engine import connect_engine
    from bot.demos.runner import run_scenario

    api = connect_engine()
    started = time.monotonic()
    run = run_scenario(api, scenario_from_yaml(SPINNER), image=IMAGE)
    elapsed = time.monotonic() - started
    assert elapsed < HANG_GUARD_S
    clear_result(run)
    assert run.steps[-1].error and "2초" in run.steps[-1].error
    assert labelled(api, run.run_id) == []
    figures.add("faults_docker", "step_past_deadline")
    figures.set("faults_docker", "spinner_run_s", round(elapsed, 2))
    api.close()


@pytest.mark.slow
def test_a_container_killed_by_its_memory_limit(docker_client, scenario_from_yaml, figures):
    from bot.demos.engine import connect_engine
    from bot.demos.runner import run_scenario

    api = connect_engine()
    run = run_scenario(api, scenario_from_yaml(MEMORY_HOG), image=IMAGE)
    clear_result(run)
    hog = run.steps[0]
    assert not hog.ok and "survived" not in hog.output
    assert ("종료 코드 0", False) in hog.expectations  # exit 137: killed, shown as ❌
    assert len(run.steps) == 2  # the demo went on to its next step and finished
    assert labelled(api, run.run_id) == []
    figures.add("faults_docker", "memory_limit_kills")
    api.close()


@pytest.mark.slow
def test_dockbot_serve_sigkilled_mid_demo_and_restarted(docker_client, tmp_path, figures):
    """`dockbot serve` runs a demo, is SIGKILLed in its second step, and is started again: the new
    process sweeps what the dead one left at start (before any demo), its demos run to the end, and nothing
    labelled remains."""
    knowledge = tmp_path / "knowledge"
    shutil.copytree(REPO / "knowledge", knowledge)
    (knowledge / "demos" / "fault-slow-writer.yaml").write_text(SLOW_WRITER, encoding="utf-8")
    fake = FakeSlack().start()
    api = docker.APIClient(**docker.utils.kwargs_from_env(), timeout=30)  # the engine of DOCKER_HOST
    env = dockbot_env(fake, DOCKBOT_DB=str(tmp_path / "dockbot.db"), DOCKBOT_KNOWLEDGE_DIR=str(knowledge))
    first = DockbotProcess(env, tmp_path / "first.log")
    try:
        first.start()
        SlackSender(first.base_url).command(
            command_form(
                "/demo",
                "fault-slow-writer",
                channel="CKILL001",
                user="UKILL001",
                response_url=fake.response_url("k1"),
            )
        )
        fake.wait_for(
            lambda: fake.calls_of("chat.update", "CKILL001"),
            timeout=HANG_GUARD_S,
            what="the first progress edit (the volume exists, the 6 s writer is running)",
        )
        time.sleep(1.0)
        assert first.proc is not None
        first.proc.kill()
        first.proc.wait(10)
        left = owned_by(api, first.proc.pid)
        assert left, "the killed bot should have left its demo objects behind"

        second = DockbotProcess({**env, "PORT": str(free_port())}, tmp_path / "second.log").start()
        try:
            deadline = time.monotonic() + HANG_GUARD_S
            while owned_by(api, first.proc.pid) and time.monotonic() < deadline:
                time.sleep(0.2)
            assert owned_by(api, first.proc.pid) == [], "serve should sweep the dead process's demo at start"
            SlackSender(second.base_url).command(
                command_form(
                    "/demo",
                    "stateless",
                    channel="CKILL002",
                    user="UKILL001",
                    response_url=fake.response_url("k2"),
                )
            )
            fake.wait_for(lambda: _final(fake, "CKILL002"), timeout=HANG_GUARD_S, what="the final message")
        finally:
            second.stop()
        assert "완료" in fake.calls_of("chat.update", "CKILL002")[-1].params["text"]
        assert owned_by(api, first.proc.pid) == []
        assert second.proc is not None and owned_by(api, second.proc.pid) == []
        assert "Traceback" not in second.log_text()
        figures.add("faults_docker", "bot_sigkilled_mid_demo")
        figures.add("faults_docker", "leftovers_swept", len(left))
    finally:
        first.stop()  # ended even when an assertion before the kill failed
        api.close()
        fake.stop()


@pytest.mark.slow
def test_dockbot_serve_sigterm_mid_demo_cleans_up_and_says_stopped(docker_client, tmp_path, figures):
    """SIGTERM while a demo runs: the demo stops between steps, cleans up, and its Slack message gets a final
    edit saying 중단됨 (not left at "2/6 단계") before the process exits."""
    knowledge = tmp_path / "knowledge"
    shutil.copytree(REPO / "knowledge", knowledge)
    (knowledge / "demos" / "fault-slow-writer.yaml").write_text(SLOW_WRITER, encoding="utf-8")
    fake = FakeSlack().start()
    api = docker.APIClient(**docker.utils.kwargs_from_env(), timeout=30)  # the engine of DOCKER_HOST
    try:
        env = dockbot_env(fake, DOCKBOT_KNOWLEDGE_DIR=str(knowledge), DOCKBOT_DEMO_EDIT_INTERVAL_S="0.1")
        bot = DockbotProcess(env, tmp_path / "serve.log").start()
        try:
            SlackSender(bot.base_url).command(
                command_form(
                    "/demo",
                    "fault-slow-writer",
                    channel="CTERM001",
                    user="UTERM001",
                    response_url=fake.response_url("t1"),
                )
            )
            fake.wait_for(
                lambda: fake.calls_of("chat.update", "CTERM001"),
                timeout=HANG_GUARD_S,
                what="the first progress edit (the slow writer is running)",
            )
            assert bot.proc is not None
            bot.proc.send_signal(signal.SIGTERM)
            assert bot.proc.wait(HANG_GUARD_S) == 0
            last = fake.calls_of("chat.update", "CTERM001")[-1].params
            assert "중단됨" in str(last["text"]), last
            assert "중단됨" in str(last.get("blocks")), last
            assert owned_by(api, bot.proc.pid) == []
            assert "Traceback" not in bot.log_text()
        finally:
            bot.stop()
        figures.add("faults_docker", "bot_sigtermed_mid_demo")
    finally:
        api.close()
        fake.stop()


def _final(fake: FakeSlack, channel: str) -> bool:
    """The demo message's last edit shows the finished run (demo.slack.txt.j2: "... 완료:" or "... 실패:")."""
    updates = fake.calls_of("chat.update", channel)
    return bool(updates) and any(word in str(updates[-1].params.get("text")) for word in ("완료:", "실패:"))
