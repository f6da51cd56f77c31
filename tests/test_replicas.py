"""Several replicas on one PostgreSQL: three real `dockbot serve` processes (HTTP mode, the local fake Slack
Web API), a test-owned PostgreSQL (tests/postgres_server.py) and the real Docker engine.

- every event delivered to all three at nearly the same moment (retry headers on two) is answered once;
- `/demo volumes` from 6 users on different replicas with DOCKBOT_MAX_DEMOS=2: never more than 2 run, every
  user gets a reply; one user on two replicas at once: one run;
- SIGKILL of the replica running a demo: its objects are swept by the others (leases of seconds here);
- PostgreSQL stopped for 10 s under load: every question answered, no replica crashes.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest
from slack_harness import (
    KNOWLEDGE_DIR,
    REPO,
    DockbotProcess,
    FakeSlack,
    SlackSender,
    command_form,
    dm_event,
    dockbot_env,
    event_body,
)

pytestmark = pytest.mark.docker

DEMO_CHANNELS = [f"CPGDEM{n:02d}" for n in range(12)]
START_TIMEOUT_S = 180.0  # a loaded machine; the snapshot cache is warm (see `knowledge`)
LEASE_S = 3.0
SWEEP_S = 1.0
# A demo that stays on the engine long enough to be killed mid-run (a test-only scenario in a knowledge copy).
SLOW_DEMO = """\
name: pg-slow
title: 오래 걸리는 볼륨 데모 (복제본 테스트용)
entry: volume-named-vs-anonymous
explanation: 볼륨을 만들고 오래 도는 컨테이너에 붙입니다.
steps:
  - op: create_volume
    title: 볼륨 만들기
    volume: pgdata
  - op: create_network
    title: 네트워크 만들기
    network: pgnet
  - op: run
    title: 오래 도는 컨테이너
    container: pgsleeper
    network: pgnet
    mounts:
      - {type: volume, source: pgdata, target: /data}
    argv: [sleep, "100"]
    timeout_s: 110
timeout_s: 120
conclusion: 끝났습니다.
"""


@pytest.fixture(scope="module")
def knowledge(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("replica-kb") / "knowledge"
    shutil.copytree(KNOWLEDGE_DIR, target)
    (target / "demos" / "pg-slow.yaml").write_text(SLOW_DEMO, encoding="utf-8")
    # Fit the matcher once (it writes the snapshot cache every replica then reads): a cold fit takes minutes
    # on this loaded machine, and four replicas must not each pay for it.
    done = subprocess.run(
        [sys.executable, "-m", "bot", "validate", str(target)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return target


@pytest.fixture(scope="module")
def database(postgres_server) -> str:
    return postgres_server.new_database("replicas")


def replica_env(fake: FakeSlack, database: str, knowledge: Path) -> dict[str, str]:
    return dockbot_env(
        fake,
        DOCKBOT_DB=database,
        DOCKBOT_KNOWLEDGE_DIR=str(knowledge),
        DOCKBOT_MAX_DEMOS="2",
        DOCKBOT_DEMO_CHANNELS=",".join(DEMO_CHANNELS),
        DOCKBOT_DEMO_LEASE_S=str(LEASE_S),
        DOCKBOT_DEMO_SWEEP_S=str(SWEEP_S),
        DOCKBOT_DEMO_EDIT_INTERVAL_S="0.5",
    )


@pytest.fixture(scope="module")
def replicas(fake, docker_client, database, knowledge, tmp_path_factory) -> list[DockbotProcess]:
    logs = tmp_path_factory.mktemp("replica-logs")
    procs: list[DockbotProcess] = []
    try:
        for n in range(3):
            proc = DockbotProcess(replica_env(fake, database, knowledge), logs / f"r{n}.log")
            procs.append(proc.start(timeout=START_TIMEOUT_S))
        yield procs
    finally:
        for proc in procs:
            proc.stop()
    for proc in procs:
        text = proc.log_text()
        assert "Traceback" not in text and "listener failed" not in text, text[-3000:]


def senders(replicas: list[DockbotProcess]) -> list[SlackSender]:
    return [SlackSender(r.base_url) for r in replicas]


def duplicates_logged(replicas: list[DockbotProcess]) -> int:
    return sum(r.log_text().count("duplicate delivery of") for r in replicas)


def test_every_event_delivered_to_three_replicas_is_answered_once(fake, replicas):
    slack = senders(replicas)
    already = duplicates_logged(replicas)
    bodies = [event_body(dm_event("명명된 볼륨이 뭐야?", channel=f"DPGONCE{n:03d}")) for n in range(100)]
    jobs = [(body, i) for body in bodies for i in range(3)]

    def deliver(job: tuple[dict, int]) -> int:
        body, i = job
        # Replica 0 gets the first delivery; 1 and 2 get "retries" at nearly the same moment.
        return slack[i].event(body, retry_num=None if i == 0 else i).status_code

    with ThreadPoolExecutor(30) as pool:
        assert set(pool.map(deliver, jobs)) == {200}
    channels = [b["event"]["channel"] for b in bodies]
    fake.wait_for(
        lambda: all(fake.calls_of("chat.postMessage", c) for c in channels), timeout=120, what="100 answers"
    )
    # Each of the 200 extra deliveries was dropped by a replica that said so: none can still be answered.
    fake.wait_for(lambda: duplicates_logged(replicas) - already == 200, timeout=60, what="200 drops logged")
    counts = {c: len(fake.calls_of("chat.postMessage", c)) for c in channels}
    assert set(counts.values()) == {1}, {c: n for c, n in counts.items() if n != 1}


def _demo_runs_on_engine(docker_client, alias: str) -> set[str]:
    # The low-level list: one request, no per-container inspect that races with the demo's own cleanup.
    containers = docker_client.api.containers(all=True, filters={"label": "dockbot.demo"})
    return {
        (c.get("Labels") or {}).get("dockbot.demo", "")
        for c in containers
        if any(name.endswith(f"-{alias}") for name in c.get("Names") or [])
    }


class EngineWatch:
    """Polls the engine (and the slot table) while a test runs: the most runs of `alias` seen at once."""

    def __init__(self, docker_client, database: str, alias: str) -> None:
        self.docker, self.database, self.alias = docker_client, database, alias
        self.most_on_engine = 0
        self.most_slots = 0
        self.runs: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> EngineWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        with psycopg.connect(self.database, autocommit=True) as conn:
            while not self._stop.is_set():
                running = _demo_runs_on_engine(self.docker, self.alias)
                self.runs |= running
                self.most_on_engine = max(self.most_on_engine, len(running))
                slots = conn.execute("SELECT COUNT(*) FROM demo_slots WHERE kind = 'docker'").fetchone()[0]
                self.most_slots = max(self.most_slots, int(slots))
                time.sleep(0.02)


def _refusals(fake: FakeSlack, channel: str, response: str) -> list:
    """A refusal is shown to the asker only: through the command's response_url (or an ephemeral)."""
    return fake.calls_of(f"response_url:{response}") + fake.calls_of("chat.postEphemeral", channel)


def _demo_replies(fake: FakeSlack, channel: str, response: str) -> list:
    return fake.calls_of("chat.postMessage", channel) + _refusals(fake, channel, response)


def test_six_users_on_three_replicas_never_run_more_than_the_cap(fake, replicas, docker_client, database):
    slack = senders(replicas)
    channels = DEMO_CHANNELS[:6]
    barrier = threading.Barrier(6)

    def start(n: int) -> int:
        form = command_form(
            "/demo",
            "volumes",
            channel=channels[n],
            user=f"UPGCAP{n:02d}",
            response_url=fake.response_url(f"pgcap-{n}"),
        )
        barrier.wait()
        return slack[n % 3].command(form).status_code

    with EngineWatch(docker_client, database, "writer") as watch, ThreadPoolExecutor(6) as pool:
        assert set(pool.map(start, range(6))) == {200}
        fake.wait_for(
            lambda: all(_demo_replies(fake, c, f"pgcap-{n}") for n, c in enumerate(channels)),
            timeout=60,
            what="six replies",
        )
        started = [c for c in channels if fake.calls_of("chat.postMessage", c)]
        refused = [_refusals(fake, c, f"pgcap-{n}") for n, c in enumerate(channels)]
        refused = [r[0] for r in refused if r]
        assert 1 <= len(started) <= 2 and len(started) + len(refused) == 6
        assert all("데모가 2개 실행 중" in r.all_text for r in refused), [r.all_text for r in refused]
        fake.wait_for(
            lambda: all(
                "결론" in fake.calls_of("chat.update", c)[-1].all_text
                for c in started
                if fake.calls_of("chat.update", c)
            ),
            timeout=120,
            what="the started demos finished",
        )
        fake.wait_for(
            lambda: not watch.runs or not _demo_runs_on_engine(docker_client, "writer") & watch.runs,
            timeout=60,
            what="the demos cleaned up",
        )
    assert watch.most_slots <= 2 and watch.most_on_engine <= 2
    assert watch.most_slots >= 1


def _slot_of(database: str, run_id: str) -> int:
    with psycopg.connect(database) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM demo_slots WHERE run_id = %s", (run_id,)).fetchone()[0])


def _slots_held(database: str) -> int:
    with psycopg.connect(database) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM demo_slots").fetchone()[0])


def test_one_user_on_two_replicas_at_once_gets_one_run(fake, replicas, docker_client, database):
    fake.wait_for(lambda: _slots_held(database) == 0, timeout=60, what="earlier demos' slots given back")
    slack = senders(replicas)
    barrier = threading.Barrier(2)
    channels = DEMO_CHANNELS[6:8]

    def start(n: int) -> int:
        form = command_form(
            "/demo",
            "volumes",
            channel=channels[n],
            user="UPGSAME1",
            response_url=fake.response_url(f"same-{n}"),
        )
        barrier.wait()
        return slack[n].command(form).status_code

    with ThreadPoolExecutor(2) as pool:
        assert set(pool.map(start, range(2))) == {200}
    fake.wait_for(
        lambda: all(_demo_replies(fake, c, f"same-{n}") for n, c in enumerate(channels)),
        timeout=60,
        what="two replies",
    )
    runs = [c for c in channels if fake.calls_of("chat.postMessage", c)]
    refusals = [r for n, c in enumerate(channels) for r in _refusals(fake, c, f"same-{n}")]
    assert len(runs) == 1 and len(refusals) == 1, [r.all_text for r in refusals]
    assert "이미 실행 중인 데모" in refusals[0].all_text


def _questions_stored(database: str) -> int:
    try:
        with psycopg.connect(database, connect_timeout=2) as conn:
            return int(
                conn.execute("SELECT COUNT(*) FROM questions WHERE channel LIKE 'DPGOUT%'").fetchone()[0]
            )
    except psycopg.OperationalError:
        return -1


def test_postgres_stopped_for_ten_seconds_under_load_every_question_is_answered(
    fake, replicas, postgres_server, database
):
    slack = senders(replicas)
    sent: list[str] = []
    stop = threading.Event()

    def load() -> None:
        n = 0
        with ThreadPoolExecutor(6) as pool:
            while not stop.is_set():
                batch = [f"DPGOUT{n + i:04d}" for i in range(6)]
                n += 6
                codes = list(
                    pool.map(
                        lambda c: (
                            slack[int(c[-4:]) % 3]
                            .event(event_body(dm_event("볼륨 지우기", channel=c)))
                            .status_code
                        ),
                        batch,
                    )
                )
                assert set(codes) == {200}
                sent.extend(batch)

    loader = threading.Thread(target=load)
    loader.start()
    try:
        fake.wait_for(lambda: len(sent) >= 30, timeout=60, what="load before the outage")
        before_outage = len(sent)
        postgres_server.stop("immediate")
        try:
            time.sleep(10)  # the outage itself (what is tested is that answers go on meanwhile)
            during = len(sent)
        finally:
            postgres_server.start()
        fake.wait_for(lambda: len(sent) >= during + 30, timeout=60, what="load after the outage")
    finally:
        stop.set()
        loader.join()
    assert during > before_outage  # questions were really asked while the database was down
    print(f"figure: {len(sent)} questions, {during - before_outage} of them during the 10 s outage")
    fake.wait_for(
        lambda: all(fake.calls_of("chat.postMessage", c) for c in sent), timeout=120, what="answers"
    )
    counts = {c: len(fake.calls_of("chat.postMessage", c)) for c in sent}
    assert set(counts.values()) == {1}
    assert all(r.proc is not None and r.proc.poll() is None for r in replicas)
    # Queued records are retried, not lost: every question lands once the server is back.
    fake.wait_for(lambda: _questions_stored(database) == len(sent), timeout=120, what="every question stored")
    assert any("unavailable" in r.log_text() for r in replicas)


def test_sigkill_of_the_replica_running_a_demo_its_objects_are_swept_by_the_others(
    fake, replicas, docker_client, database, knowledge, tmp_path
):
    victim = DockbotProcess(replica_env(fake, database, knowledge), tmp_path / "victim.log")
    victim.start(timeout=START_TIMEOUT_S)
    try:
        form = command_form(
            "/demo",
            "pg-slow",
            channel=DEMO_CHANNELS[9],
            user="UPGKILL1",
            response_url=fake.response_url("kill"),
        )
        assert SlackSender(victim.base_url).command(form).status_code == 200
        running = fake.wait_for(
            lambda: _demo_runs_on_engine(docker_client, "pgsleeper"),
            timeout=60,
            what="the slow demo's container",
        )
        (run_id,) = running
        assert victim.proc is not None
        killed_at = time.monotonic()
        victim.proc.send_signal(signal.SIGKILL)
        victim.proc.wait(10)
        label = {"label": f"dockbot.demo={run_id}"}

        def left() -> list[str]:
            return (
                # The low-level list: containers.list() inspects each one and fails on one just swept.
                [c["Names"][0] for c in docker_client.api.containers(all=True, filters=label)]
                + [v.name for v in docker_client.volumes.list(filters=label)]
                + [n.name for n in docker_client.networks.list(filters=label)]
            )

        assert left()  # the killed replica could not clean up
        asked = []
        # Meanwhile the other replicas keep answering.
        for n, sender in enumerate(senders(replicas)):
            channel = f"DPGKILL{n:02d}"
            assert (
                sender.event(event_body(dm_event("컨테이너와 이미지 차이", channel=channel))).status_code
                == 200
            )
            asked.append(channel)
        fake.wait_for(
            lambda: all(fake.calls_of("chat.postMessage", c) for c in asked),
            timeout=60,
            what="answers while a replica is dead",
        )
        fake.wait_for(lambda: not left(), timeout=90, what="the dead replica's demo objects swept")
        print(
            f"figure: killed replica's demo swept {time.monotonic() - killed_at:.1f} s after SIGKILL "
            f"(lease {LEASE_S:g} s, sweep every {SWEEP_S:g} s)"
        )
        # The slot is freed right after the sweep, by the replica that swept (and says so in its log).
        fake.wait_for(lambda: _slot_of(database, run_id) == 0, timeout=30, what="the dead run's slot freed")
        assert any(f"demo run {run_id} swept" in r.log_text() for r in replicas)
    finally:
        victim.stop()
