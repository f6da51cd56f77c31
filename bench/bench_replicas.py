"""Replicas benchmark (a benchmark, not a test): answers/s and ack latency with 1 and 3 `dockbot serve`
replicas on one PostgreSQL, and the database write rate they need.

Each configuration runs real `dockbot serve` processes (HTTP mode, the local fake Slack Web API) against a
test-owned PostgreSQL (tests/postgres_server.py, fsync off). 50 senders keep one signed DM event each in
flight (a closed loop) for --seconds; an answer is the bot's chat.postMessage reaching the fake API.
- answers/s: answers that reached the fake API / elapsed (the last ones are waited for);
- ack p50/p99: the HTTP response time of each event (Slack's 3 s deadline is on this);
- PostgreSQL: transactions committed and rows inserted per second (pg_stat_database), and per answer.
`--deliveries 3` sends every event to all replicas (one first delivery, two retries), as Slack does when a
replica is slow: what the shared dedupe costs.

    python bench/bench_replicas.py [--seconds 15] [--concurrency 50]
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from slack_harness import DockbotProcess, FakeSlack, SlackSender, dm_event, dockbot_env, event_body

from tests.postgres_server import PostgresServer

QUESTIONS = ["명명된 볼륨이 뭐야?", "도커 네트워크 만들려면?", "쿠버네티스 파드가 뭐임", "점심 뭐 먹지"]


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))]


def db_counters(url: str) -> tuple[int, int]:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT xact_commit, tup_inserted + tup_updated + tup_deleted FROM pg_stat_database"
            " WHERE datname = current_database()"
        ).fetchone()
    return int(row[0]), int(row[1])


def run(server: PostgresServer, replicas: int, deliveries: int, seconds: float, concurrency: int) -> dict:
    name = f"bench_{replicas}r_{deliveries}d_{int(time.time())}"
    url = server.new_database(name)
    fake = FakeSlack().start()
    logs = Path(tempfile.mkdtemp(prefix="bench-replicas-"))
    procs = [
        DockbotProcess(dockbot_env(fake, DOCKBOT_DB=url, DOCKBOT_LOG_LEVEL="WARNING"), logs / f"r{n}.log")
        for n in range(replicas)
    ]
    try:
        for proc in procs:
            proc.start()
        counter = itertools.count()
        acks: list[float] = []
        channels: list[str] = []
        lock = threading.Lock()
        stop_at = time.monotonic() + seconds

        def sender_loop(worker: int) -> None:
            local = [SlackSender(p.base_url) for p in procs]  # one keep-alive session per thread
            while time.monotonic() < stop_at:
                n = next(counter)
                channel = f"DBENCH{n:06d}"
                body = event_body(dm_event(QUESTIONS[n % len(QUESTIONS)], channel=channel))
                first = n % replicas
                for k in range(deliveries):
                    target = local[(first + k) % replicas]
                    began = time.monotonic()
                    status = target.event(body, retry_num=k or None).status_code
                    took = time.monotonic() - began
                    if status != 200:
                        raise SystemExit(f"HTTP {status}")
                    with lock:
                        acks.append(took)
                with lock:
                    channels.append(channel)

        before = db_counters(url)
        started = time.monotonic()
        threads = [threading.Thread(target=sender_loop, args=(w,)) for w in range(concurrency)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        fake.wait_for(
            lambda: all(fake.calls_of("chat.postMessage", c) for c in channels),
            timeout=120,
            what="every answer",
        )
        elapsed = time.monotonic() - started
        time.sleep(2.5)  # the store's writer threads drain (records are written after the replies)
        after = db_counters(url)
        answers = sum(len(fake.calls_of("chat.postMessage", c)) for c in channels)
        duplicates = answers - len(channels)
        commits, rows = after[0] - before[0], after[1] - before[1]
        return {
            "replicas": replicas,
            "deliveries": deliveries,
            "events": len(channels),
            "answers": answers,
            "duplicates": duplicates,
            "answers_per_s": len(channels) / elapsed,
            "ack_p50_ms": 1000 * statistics.median(acks),
            "ack_p99_ms": 1000 * percentile(acks, 99),
            "ack_max_ms": 1000 * max(acks),
            "db_commits_per_s": commits / elapsed,
            "db_rows_per_s": rows / elapsed,
            "db_commits_per_answer": commits / max(len(channels), 1),
        }
    finally:
        for proc in procs:
            proc.stop()
        fake.stop()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--concurrency", type=int, default=50)
    args = parser.parse_args()
    server = PostgresServer.create()
    server.start()
    try:
        results = [run(server, r, d, args.seconds, args.concurrency) for r, d in ((1, 1), (3, 1), (3, 3))]
    finally:
        server.close()
    print(f"{args.concurrency} concurrent senders, {args.seconds:g} s each, one PostgreSQL (fsync off)")
    print(
        "replicas deliveries  events  answers/s  ack p50  ack p99  ack max  dup  db commits/s  rows/s  "
        "commits/answer"
    )
    for r in results:
        print(
            f"{r['replicas']:>8} {r['deliveries']:>10} {r['events']:>7} {r['answers_per_s']:>10.1f} "
            f"{r['ack_p50_ms']:>6.0f}ms {r['ack_p99_ms']:>6.0f}ms {r['ack_max_ms']:>6.0f}ms "
            f"{r['duplicates']:>4} "
            f"{r['db_commits_per_s']:>12.1f} {r['db_rows_per_s']:>7.1f} {r['db_commits_per_answer']:>14.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
