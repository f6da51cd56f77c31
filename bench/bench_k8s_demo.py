"""Benchmark the Kubernetes demos on a real cluster; prints figures, asserts nothing.

1. Each demo alone: `dockbot demo NAME --json` (a whole process, as a user runs it) against
   bench/k8s_demos_kubectl.sh NAME (the same steps, lockdown and waits as a kubectl script), alternated in
   one run: medians and the ratio of the medians.
2. Two at once: the same demo twice through one DemoService (two users, the cap at 2), and self-healing
   next to a Docker demo; wall time per demo against the alone figure.
3. What was left: namespaces labelled dockbot.demo (must be 0).

The cluster: DOCKBOT_KUBECONFIG, else .ci/kube-cluster.sh up (tests/kube_cluster.py).
Usage: python bench/bench_k8s_demo.py [--runs 3] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import bot.demos.kube_cleanup  # noqa: E402, F401 (imported now: the runs below must not see later edits)
from bot.demos.kube_cluster import KubePlatform, connect_cluster  # noqa: E402
from bot.demos.runner import LABEL  # noqa: E402
from bot.demos.scenario import load_scenarios  # noqa: E402
from bot.demos.service import DemoService  # noqa: E402
from tests.kube_cluster import TestCluster  # noqa: E402

DEMOS = ("self-healing", "service", "rollout")
IMAGE = os.environ.get("DOCKBOT_DEMO_IMAGE", "busybox:1.36")


def timed(argv: list[str], env: dict) -> float:
    started = time.perf_counter()
    full_env = {**os.environ, **env}
    done = subprocess.run(argv, cwd=REPO, env=full_env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({done.returncode}): {(done.stdout + done.stderr)[-800:]}")
    return elapsed


def alone(kubeconfig: str, runs: int) -> dict:
    bot_env = {"DOCKBOT_KUBECONFIG": kubeconfig, "DOCKBOT_KUBE_PULL_POLICY": "Never"}
    script_env = {"KUBECONFIG": kubeconfig}
    figures = {}
    for demo in DEMOS:
        bot, script = [], []
        for _ in range(runs):
            bot.append(timed([sys.executable, "-m", "bot", "demo", demo, "--json"], bot_env))
            script.append(timed(["bash", "bench/k8s_demos_kubectl.sh", demo], script_env))
        figures[demo] = {
            "dockbot_s": round(statistics.median(bot), 2),
            "kubectl_s": round(statistics.median(script), 2),
            "ratio": round(statistics.median(bot) / statistics.median(script), 2),
            "dockbot_runs": [round(x, 2) for x in bot],
            "kubectl_runs": [round(x, 2) for x in script],
        }
    return figures


def at_once(kubeconfig: str, pairs: list[tuple[str, str]]) -> dict:
    scenarios = load_scenarios(REPO / "knowledge" / "demos")[0]
    figures = {}
    for first, second in pairs:
        platform = KubePlatform(kubeconfig, image=IMAGE, pull_policy="Never")
        service = DemoService(
            lambda: scenarios, image=IMAGE, max_concurrent=2, platforms={"kubernetes": platform}
        )
        try:
            started = time.perf_counter()
            futures = [service.submit(first, user="B1"), service.submit(second, user="B2")]
            results = [future.result(timeout=600) for future in futures]
            wall = time.perf_counter() - started
        finally:
            service.close()
        figures[f"{first} + {second}"] = {
            "wall_s": round(wall, 2),
            "per_demo_s": [round(result.duration_s, 2) for result in results],
            "ok": [result.ok for result in results],
        }
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    cluster = TestCluster.get()
    try:
        api = connect_cluster(cluster.kubeconfig)
        from kubernetes import client

        version = client.VersionApi(api).get_code().git_version
        load = os.getloadavg()[0]
        report = {
            "kubernetes": version,
            "load_at_start": round(load, 2),
            "alone": alone(cluster.kubeconfig, args.runs),
            "two_at_once": at_once(
                cluster.kubeconfig, [("self-healing", "self-healing"), ("self-healing", "volumes")]
            ),
        }
        time.sleep(2)
        left = client.CoreV1Api(api).list_namespace(label_selector=LABEL).items
        report["left_namespaces"] = len(left)
        api.close()
    finally:
        cluster.close()
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
        return
    load = report["load_at_start"]
    print(f"Kubernetes {report['kubernetes']}, load {load} at start, {args.runs} runs each")
    print(f"{'demo':<14} {'dockbot demo (median)':>22} {'kubectl script':>15} {'ratio':>6}")
    for demo, row in report["alone"].items():
        print(f"{demo:<14} {row['dockbot_s']:>20.2f} s {row['kubectl_s']:>13.2f} s {row['ratio']:>5.2f}x")
    for pair, row in report["two_at_once"].items():
        per = ", ".join(f"{s:.2f} s" for s in row["per_demo_s"])
        print(f"two at once: {pair}: wall {row['wall_s']:.2f} s, per demo {per}, ok {row['ok']}")
    print(f"namespaces left: {report['left_namespaces']}")


if __name__ == "__main__":
    main()
