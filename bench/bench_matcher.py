"""Benchmark of the Q&A matcher (prints figures; not a test).

    python bench/bench_matcher.py [--sizes 1000,10000] [--repeat 3]

Prints: held-out accuracy (top-1, top-3, answered right/wrong, off-topic rejected, per style), the
leave-one-out figures the thresholds are fitted on, latency p50/p99 per question with the knowledge base
as is and replicated to 1,000 and 10,000 entries (same vocabulary, so it measures index and loop cost),
index build time, cold start of `dockbot ask` (process start to first answer; warm and empty cache) and RSS.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bot.heldout import load_labelled, score  # noqa: E402
from bot.knowledge import KnowledgeBase, load_knowledge  # noqa: E402
from bot.matcher import Matcher, Thresholds  # noqa: E402
from bot.thresholds import collect_evidence  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def replicate(kb: KnowledgeBase, size: int) -> KnowledgeBase:
    entries = []
    copy = 0
    while len(entries) < size:
        for entry in kb.entries:
            if len(entries) >= size:
                break
            entries.append(dataclasses.replace(entry, id=f"{entry.id}~{copy}"))
        copy += 1
    return dataclasses.replace(kb, entries=tuple(entries))


def latency(matcher: Matcher, questions: list[str], repeat: int) -> tuple[float, float]:
    times = []
    for _ in range(repeat):
        for question in questions:
            start = time.perf_counter()
            matcher.match(question)
            times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), percentile(times, 0.99)


def cold_start(question: str, cache: str) -> float:
    env = {**os.environ, "XDG_CACHE_HOME": cache}
    env.pop("SLACK_BOT_TOKEN", None)
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "bot", "ask", "--json", question], env=env, capture_output=True, text=True
    )
    elapsed = time.perf_counter() - start
    assert done.returncode == 0 and json.loads(done.stdout)["question"] == question, done.stderr
    return elapsed


def wait_for_warm_up(cache: str, limit_s: float = 60.0) -> float:
    """Seconds until the detached warm-up of a first `dockbot ask` has cached the full snapshot."""
    start = time.perf_counter()
    while time.perf_counter() - start < limit_s:
        if list((Path(cache) / "dockbot").glob("model-*.json")):
            break
        time.sleep(0.05)
    return time.perf_counter() - start


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000", help="replicated KB sizes")
    parser.add_argument("--repeat", type=int, default=3, help="passes over the questions per size")
    parser.add_argument("--misses", action="store_true", help="print every held-out miss")
    args = parser.parse_args()

    rss_start = rss_mib()
    # Figures for this code and knowledge, not whatever an earlier run left in the user's cache.
    os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="dockbot-bench-")
    start = time.perf_counter()
    kb = load_knowledge(REPO / "knowledge")
    load_s = time.perf_counter() - start
    start = time.perf_counter()
    matcher = Matcher(kb)
    build_s = time.perf_counter() - start
    n_questions = sum(len(e.questions) for e in kb.entries)
    print(
        f"knowledge: {len(kb.entries)} entries, {n_questions} example questions, "
        f"{len(kb.off_topic)} off-topic"
    )
    print(f"load (YAML + validation) {load_s:.2f} s, index + thresholds {build_s:.2f} s")
    print(
        f"thresholds: answer >= {matcher.thresholds.answer:.3f}, suggest >= {matcher.thresholds.suggest:.3f}"
    )

    evidence = collect_evidence(matcher)
    loo_top1 = sum(ok for _, ok in evidence.in_scope) / len(evidence.in_scope)
    loo_right = sum(ok and s >= matcher.thresholds.answer for s, ok in evidence.in_scope) / len(
        evidence.in_scope
    )
    off_rej = sum(s < matcher.thresholds.answer for s in evidence.off_topic) / max(1, len(evidence.off_topic))
    print(
        f"leave-one-out (fitting data): top-1 {loo_top1:.1%}, answered right {loo_right:.1%}, "
        f"off-topic file rejected {off_rej:.1%}"
    )

    files = sorted((REPO / "tests" / "data").glob("heldout-*.yaml"))
    labelled = load_labelled(files)
    result = score(matcher, labelled)
    print(f"held-out: {result.in_scope} in scope + {result.off_topic} off-topic ({len(files)} files)")
    print(
        f"  top-1 {result.rate('top1'):.1%}  top-3 {result.rate('top3'):.1%}  "
        f"answered right {result.rate('answered_right'):.1%}  "
        f"answered wrong {result.rate('answered_wrong'):.1%}  "
        f"off-topic rejected {result.rate('rejected'):.1%}"
    )
    styles = ", ".join(
        f"{style} {result.by_style[style]}/{total}" for style, total in sorted(result.style_total.items())
    )
    print(f"  answered right by style: {styles}")
    if args.misses:
        print("\n".join("  " + m for m in result.misses))

    questions = [x.question for x in labelled]
    p50, p99 = latency(matcher, questions, args.repeat)
    print(f"latency at {len(kb.entries)} entries: p50 {p50:.2f} ms, p99 {p99:.2f} ms")
    fixed = Thresholds(matcher.thresholds.answer, matcher.thresholds.suggest)
    for size in [int(s) for s in args.sizes.split(",") if s]:
        big = replicate(kb, size)
        start = time.perf_counter()
        big_matcher = Matcher(big, thresholds=fixed)
        built = time.perf_counter() - start
        p50, p99 = latency(big_matcher, questions, 1)
        print(f"latency at {size:,} entries: p50 {p50:.2f} ms, p99 {p99:.2f} ms (index build {built:.1f} s)")
        del big_matcher
    huge = "볼륨 " * 50_000
    start = time.perf_counter()
    matcher.match(huge)
    print(f"100,000-character question: {(time.perf_counter() - start) * 1000:.1f} ms")
    print(f"RSS: {rss_start:.0f} MiB at start, {rss_mib():.0f} MiB peak (after the 10,000-entry index)")

    empty = []
    with tempfile.TemporaryDirectory() as cache:
        for _ in range(3):
            with tempfile.TemporaryDirectory() as fresh:
                empty.append(cold_start("명명된 볼륨이 뭐야?", fresh))
                wait_for_warm_up(fresh)
        cold_start("명명된 볼륨이 뭐야?", cache)
        waited = wait_for_warm_up(cache)
        warm = [cold_start("명명된 볼륨이 뭐야?", cache) for _ in range(5)]
    print(
        f"cold start (dockbot ask --json, process start to answer): {statistics.median(warm):.2f} s "
        f"with the snapshot cache, {statistics.median(empty):.2f} s on an empty cache "
        f"(provisional thresholds; the background full fit was cached {waited:.1f} s later)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
