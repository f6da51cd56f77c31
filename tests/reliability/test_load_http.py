"""Load in HTTP mode: 500 mixed requests (mentions, DMs, /docker, /demo) at 50 concurrent against the real
`dockbot serve` subprocess, with the fake Slack Web API counting every reply. Two rounds, so that a leak shows
as growth between them.

Asserted: every request acknowledged (HTTP 200), every question answered exactly once, every
/demo either started (its own message) or refused as busy (never both, never silence), at least one busy
beyond the cap, no demo object left on the engine, and no growth of threads or file descriptors from the
first round to the second. Printed (and recorded for docs/reliability.md): p50/p99 ack latency, answers per
second, peak RSS. No timing is asserted: the 3 s ack bar under load is bench/bench_slack.py's to measure on
a quiet machine (on a shared one a test asserting it fails for the neighbours' load, not for dockbot).
"""

from __future__ import annotations

import json
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from slack_harness import (
    BOT_USER_ID,
    DockbotProcess,
    FakeSlack,
    command_form,
    dm_event,
    dockbot_env,
    event_body,
    mention_event,
    sign,
)

from tests.reliability.engines import owned_by

REQUESTS = 500
CONCURRENCY = 50
DEMOS = 20  # sent first, in one burst: at most DOCKBOT_MAX_DEMOS (2) can run, the rest must hear "busy"
QUESTIONS = [
    "명명된 볼륨이 뭐야?",
    "컨테이너끼리 이름으로 통신하려면?",
    "이미지와 컨테이너 차이가 뭐야",
    "바인드 마운트 쓰는 법",
    "쿠버네티스 파드가 뭐야",
    "docker compose depends_on 은?",
    "점심 뭐 먹지",
    "익명 볼륨이 계속 쌓여요",
    "<!channel> 네트워크 드라이버 종류",
    "dangling 이미지 지우기",
]


class Round:
    """One round of REQUESTS mixed requests; remembers where each reply must appear."""

    def __init__(self, fake: FakeSlack, base_url: str, tag: str) -> None:
        self.fake = fake
        self.url = base_url + "/slack/events"
        self.tag = tag
        self.jobs: list[tuple[str, str, str, dict[str, str]]] = []  # (kind, key, body, headers)
        self.acks: list[float] = []
        self.statuses: list[int] = []
        self._local = threading.local()
        self._lock = threading.Lock()
        for i in range(REQUESTS):
            self.jobs.append(self._job(i))

    def _job(self, i: int) -> tuple[str, str, str, dict[str, str]]:
        question = QUESTIONS[i % len(QUESTIONS)]
        if i < DEMOS:
            form = command_form(
                "/demo",
                "stateless",
                channel=f"C{self.tag}DEMO{i:03d}",
                user=f"U{self.tag}{i:04d}",
                response_url=self.fake.response_url(f"{self.tag}-demo-{i}"),
            )
            return ("demo", str(i), *_form(form))
        kind = ("mention", "dm", "docker")[i % 3]
        if kind == "mention":
            event = mention_event(f"<@{BOT_USER_ID}> {question}", channel=f"C{self.tag}M{i:04d}")
            return ("mention", event["channel"], *_event(event))
        if kind == "dm":
            event = dm_event(question, channel=f"D{self.tag}{i:04d}")
            return ("dm", event["channel"], *_event(event))
        form = command_form(
            "/docker",
            question,
            channel=f"C{self.tag}CMD",
            user=f"U{self.tag}C{i:04d}",
            response_url=self.fake.response_url(f"{self.tag}-docker-{i}"),
        )
        return ("docker", f"{self.tag}-docker-{i}", *_form(form))

    def _send(self, job: tuple[str, str, str, dict[str, str]]) -> None:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        _, _, body, headers = job
        headers = {**headers, **sign(body)}  # signed at send time, as Slack does
        started = time.perf_counter()
        response = session.post(self.url, data=body.encode(), headers=headers, timeout=30)
        elapsed = time.perf_counter() - started
        with self._lock:
            self.acks.append(elapsed)
            self.statuses.append(response.status_code)

    def run(self) -> float:
        started = time.monotonic()
        with ThreadPoolExecutor(CONCURRENCY) as pool:
            list(pool.map(self._send, self.jobs))
        return started

    # ---- replies ---------------------------------------------------------------------------------------
    def replies(self, kind: str, key: str) -> int:
        if kind in ("mention", "dm"):
            return len(self.fake.calls_of("chat.postMessage", key))
        if kind == "docker":
            return len(self.fake.calls_of(f"response_url:{key}"))
        return self.demo_started(key) + self.demo_busy(key)

    def demo_started(self, key: str) -> int:
        return len(self.fake.calls_of("chat.postMessage", f"C{self.tag}DEMO{int(key):03d}"))

    def demo_busy(self, key: str) -> int:
        return len(self.fake.calls_of(f"response_url:{self.tag}-demo-{key}"))

    def demo_finished(self, key: str) -> bool:
        updates = self.fake.calls_of("chat.update", f"C{self.tag}DEMO{int(key):03d}")
        return bool(updates) and any(w in str(updates[-1].params.get("text")) for w in ("완료:", "실패:"))

    def all_replied(self) -> bool:
        return all(self.replies(kind, key) >= 1 for kind, key, _, _ in self.jobs)

    def last_answer_at(self) -> float:
        keys = {key for kind, key, _, _ in self.jobs if kind != "demo"}
        times = [
            c.at
            for c in self.fake.calls
            if c.channel in keys or c.method.removeprefix("response_url:") in keys
        ]
        return max(times)


def _event(event: dict) -> tuple[str, dict[str, str]]:
    return json.dumps(event_body(event)), {"Content-Type": "application/json"}


def _form(form: dict[str, str]) -> tuple[str, dict[str, str]]:
    import urllib.parse

    return urllib.parse.urlencode(form), {"Content-Type": "application/x-www-form-urlencoded"}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


@pytest.mark.slow
def test_500_mixed_requests_at_50_concurrent(docker_client, tmp_path, figures):
    fake = FakeSlack().start()
    env = dockbot_env(
        fake, DOCKBOT_DB=str(tmp_path / "dockbot.db"), DOCKBOT_MAX_DEMOS="2", DOCKBOT_LOG_LEVEL="WARNING"
    )
    bot = DockbotProcess(env, tmp_path / "load.log").start()
    assert bot.proc is not None
    pid = bot.proc.pid
    rounds: list[dict] = []
    try:
        for tag in ("A", "B"):
            load = Round(fake, bot.base_url, tag)
            started = load.run()
            fake.wait_for(load.all_replied, timeout=180, what=f"every reply of round {tag}")
            demos = [key for kind, key, _, _ in load.jobs if kind == "demo"]
            fake.wait_for(
                lambda load=load, demos=demos: all(
                    load.demo_finished(k) for k in demos if load.demo_started(k)
                ),
                timeout=180,
                what="every started demo to finish",
            )
            time.sleep(1.0)  # late duplicates would show up here
            duplicates = {
                key: load.replies(kind, key) for kind, key, _, _ in load.jobs if load.replies(kind, key) != 1
            }
            assert duplicates == {}, duplicates
            assert set(load.statuses) == {200}, sorted(set(load.statuses))
            started_demos = [k for k in demos if load.demo_started(k)]
            busy = [k for k in demos if load.demo_busy(k)]
            assert started_demos and busy, (started_demos, busy)
            assert not set(started_demos) & set(busy)
            for key in busy:
                assert "실행 중" in load.fake.calls_of(f"response_url:{tag}-demo-{key}")[0].all_text
            questions = sum(1 for kind, _, _, _ in load.jobs if kind != "demo")
            answered_in = load.last_answer_at() - started
            time.sleep(1.0)
            status = bot.status()
            rounds.append(
                {
                    "acks": load.acks,
                    "answers_per_s": questions / answered_in,
                    "questions": questions,
                    "demos_started": len(started_demos),
                    "demos_busy": len(busy),
                    **status,
                }
            )
        assert owned_by(docker_client.api, pid) == []
    finally:
        bot.stop()
        fake.stop()
    log = bot.log_text()
    assert "Traceback" not in log, log[-3000:]
    first, second = rounds
    # No growth from round to round: pools are bounded, connections closed, nothing accumulates.
    assert second["Threads"] <= first["Threads"] + 2, (first["Threads"], second["Threads"])
    assert second["fds"] <= first["fds"] + 8, (first["fds"], second["fds"])  # keep-alive sockets come and go
    acks = first["acks"] + second["acks"]
    p50, p99 = statistics.median(acks), percentile(acks, 0.99)
    figures.set("load_http", "requests", REQUESTS * 2)
    figures.set("load_http", "concurrency", CONCURRENCY)
    figures.set("load_http", "ack_p50_ms", round(p50 * 1000, 1))
    figures.set("load_http", "ack_p99_ms", round(p99 * 1000, 1))
    figures.set("load_http", "ack_max_ms", round(max(acks) * 1000, 1))
    figures.set("load_http", "answers_per_s", round(min(r["answers_per_s"] for r in rounds), 1))
    figures.set("load_http", "peak_rss_mib", round(second["VmHWM"] / 1024, 1))
    figures.set("load_http", "demos_started", sum(r["demos_started"] for r in rounds))
    figures.set("load_http", "demos_busy", sum(r["demos_busy"] for r in rounds))
    figures.set("load_http", "threads_after_rounds", f"{first['Threads']}/{second['Threads']}")
    figures.set("load_http", "fds_after_rounds", f"{first['fds']}/{second['fds']}")
    figures.set("load_http", "objects_leaked", 0)
    print(
        f"load: {REQUESTS * 2} requests at {CONCURRENCY} concurrent, ack p50 {p50 * 1000:.0f} ms, "
        f"p99 {p99 * 1000:.0f} ms, max {max(acks) * 1000:.0f} ms; "
        f"{min(r['answers_per_s'] for r in rounds):.1f} answers/s; peak RSS {second['VmHWM'] / 1024:.0f} MiB"
    )
