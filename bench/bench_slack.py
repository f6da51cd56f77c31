"""Slack door benchmark (a benchmark, not a test): prints figures.

- Ack latency (HTTP response time of signed requests to `dockbot serve` in HTTP mode, a real subprocess) for
  bursts of 50 concurrent @mentions and 50 concurrent `/docker` commands, plus the time until the answer
  reached the (fake) Slack Web API / response_url.
- Time from `/demo volumes` to its final chat.update on the real Docker engine (skipped without an engine),
  with the production edit interval (1 s per message).

Bar: every ack < 3 s, p99 <= 300 ms.

    python bench/bench_slack.py [--rounds 3] [--burst 50] [--demos 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from slack_harness import (
    BOT_USER_ID,
    DockbotProcess,
    FakeSlack,
    SlackSender,
    command_form,
    dockbot_env,
    event_body,
    mention_event,
)

QUESTIONS = [
    "명명된 볼륨이 뭐야?",
    "컨테이너 지웠더니 DB 데이터가 날아갔어요",
    "도커 네트워크 만들려면?",
    "depends_on 쓰는 법",
    "쿠버네티스 파드가 뭐임",
    "익명 볼륨 계속 쌓이는데 어떻게 지워",
    "bind mount 랑 volume 차이",
    "점심 뭐 먹지",
]


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]


def burst(n: int, send) -> list[float]:
    """Fire n requests at once (a barrier releases them together); returns each ack latency in seconds."""
    barrier = threading.Barrier(n)
    latencies: list[float] = [0.0] * n
    statuses: list[int] = [0] * n

    def one(i: int) -> None:
        barrier.wait()
        start = time.perf_counter()
        statuses[i] = send(i)
        latencies[i] = time.perf_counter() - start

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    bad = [s for s in statuses if s != 200]
    if bad:
        raise SystemExit(f"{len(bad)} requests were not acknowledged with 200: {bad[:5]}")
    return latencies


def describe(name: str, values: list[float]) -> str:
    ms = [v * 1000 for v in values]
    return (
        f"{name:<34} n={len(ms):<4} p50={percentile(ms, 50):7.1f} ms  p99={percentile(ms, 99):7.1f} ms  "
        f"max={max(ms):7.1f} ms"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--burst", type=int, default=50)
    parser.add_argument("--demos", type=int, default=3, help="/demo volumes runs (0 to skip)")
    args = parser.parse_args()

    fake = FakeSlack().start()
    workdir = Path(tempfile.mkdtemp(prefix="bench-slack-"))
    demo_channel = "CBENCHDEMO"
    env = dockbot_env(fake, DOCKBOT_DEMO_CHANNELS=demo_channel, DOCKBOT_DB=str(workdir / "dockbot.db"))
    started = time.perf_counter()
    proc = DockbotProcess(env, workdir / "dockbot.log").start()
    print(f"dockbot serve (HTTP mode) healthy after {time.perf_counter() - started:.2f} s")
    slack = SlackSender(proc.base_url)
    acks: dict[str, list[float]] = {"mention": [], "command": []}
    replies: dict[str, list[float]] = {"mention": [], "command": []}
    try:
        # Warm-up (first request pays auth.test and imports).
        slack.event(event_body(mention_event(f"<@{BOT_USER_ID}> 볼륨", channel="CWARM")))
        fake.wait_for(lambda: fake.calls_of("chat.postMessage", "CWARM"), what="warm-up")
        for r in range(args.rounds):
            channels = [f"CM{r:02d}{i:04d}" for i in range(args.burst)]
            sent_at = time.perf_counter()
            bodies = [
                event_body(
                    mention_event(f"<@{BOT_USER_ID}> {QUESTIONS[i % len(QUESTIONS)]}", channel=channels[i])
                )
                for i in range(args.burst)
            ]
            acks["mention"] += burst(args.burst, lambda i, bodies=bodies: slack.event(bodies[i]).status_code)
            for c in channels:
                post = fake.wait_for(lambda c=c: fake.calls_of("chat.postMessage", c), what=f"answer in {c}")[
                    0
                ]
                replies["mention"].append(post.at - fake_clock_offset(sent_at))

            names = [f"cmd{r:02d}{i:04d}" for i in range(args.burst)]
            sent_at = time.perf_counter()
            forms = [
                command_form(
                    "/docker",
                    QUESTIONS[i % len(QUESTIONS)],
                    channel="CCMD",
                    user=f"UB{i:04d}",
                    response_url=fake.response_url(names[i]),
                )
                for i in range(args.burst)
            ]
            acks["command"] += burst(args.burst, lambda i, forms=forms: slack.command(forms[i]).status_code)
            for n in names:
                call = fake.wait_for(lambda n=n: fake.calls_of(f"response_url:{n}"), what=f"reply {n}")[0]
                replies["command"].append(call.at - fake_clock_offset(sent_at))

        print(f"\nAck latency, {args.rounds} bursts of {args.burst} concurrent requests (HTTP mode):")
        print(describe("@mention event ack", acks["mention"]))
        print(describe("/docker command ack", acks["command"]))
        print(describe("@mention -> chat.postMessage", replies["mention"]))
        print(describe("/docker -> response_url answer", replies["command"]))
        every = acks["mention"] + acks["command"]
        worst, p99 = max(every), percentile(every, 99)
        verdict = "MET" if worst < 3.0 and p99 <= 0.300 else "NOT MET"
        print(f"bar (every ack < 3 s, p99 <= 300 ms): {verdict}")
        print(f"  (max {worst * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms)")

        if args.demos:
            bench_demo(fake, slack, demo_channel, args.demos)
    finally:
        proc.stop()
        fake.stop()
    return 0


def fake_clock_offset(perf_start: float) -> float:
    """Calls are stamped with time.monotonic(); convert a perf_counter start to that clock."""
    return time.monotonic() - (time.perf_counter() - perf_start)


def bench_demo(fake: FakeSlack, slack: SlackSender, channel: str, runs: int) -> None:
    try:
        import docker

        docker.from_env(timeout=5).ping()
    except Exception as exc:
        print(f"\n/demo volumes: skipped (no Docker engine: {exc})")
        return
    totals, firsts, edits = [], [], []
    for i in range(runs):
        name = f"demo{i}"
        sent = time.monotonic()
        ack = slack.command(
            command_form(
                "/demo",
                "volumes",
                channel=channel,
                user=f"UDEMO{i:03d}",
                response_url=fake.response_url(name),
            )
        )
        if ack.status_code != 200:
            raise SystemExit(f"/demo not acknowledged: {ack.status_code}")
        first = fake.wait_for(
            lambda i=i: [
                c for c in fake.calls_of("chat.postMessage", channel) if f"UDEMO{i:03d}" in c.all_text
            ],
            what="the live message",
        )[0]
        ts = first.result["ts"]

        def final(ts=ts):
            done = [
                c
                for c in fake.calls_of("chat.update", channel)
                if c.params["ts"] == ts and "결론" in c.all_text
            ]
            return done[-1] if done else None

        last = fake.wait_for(final, timeout=120, what="the final result")
        firsts.append(first.at - sent)
        totals.append(last.at - sent)
        edits.append(len([c for c in fake.calls_of("chat.update", channel) if c.params["ts"] == ts]))
    print(f"\n/demo volumes on the real engine ({runs} runs, one after another, 1 s edit interval):")
    print(f"  command -> live message posted     median {statistics.median(firsts) * 1000:7.1f} ms")
    print(
        f"  command -> final chat.update       median {statistics.median(totals):7.2f} s  "
        f"(min {min(totals):.2f} s, max {max(totals):.2f} s)"
    )
    print(f"  chat.update calls per demo         {edits}")


if __name__ == "__main__":
    raise SystemExit(main())
