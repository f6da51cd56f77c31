"""Benchmark the demo engine on the real Docker engine; prints figures, asserts nothing.

0. HTTP requests and connections to the engine for one `dockbot demo volumes` and one run of the CLI
   script (a counting unix-socket proxy in front of the engine's socket).
1. `dockbot demo volumes` (a whole process, as a user runs it) against bench/volumes_demo_cli.sh (the same
   steps as a plain docker CLI script, with the same lockdown flags but as root, the round-1 baseline) and
   bench/volumes_demo_cli_nonroot.sh (the whole lockdown, non-root included: the same volume handover the
   runner makes), alternated in one run: medians, ratios.
2. Time per demo with 1, 2 and 4 demos at once (the runner in threads sharing one client, like the service).
3. Objects left afterwards: labelled containers/volumes/networks, all volumes (unlabelled anonymous ones
   would show here), and per-run temp dirs. Must all be 0.

4. With --vs-image IMAGE, only this: the demo in a running bot on DOCKBOT_DEMO_IMAGE against IMAGE, paired
   (e.g. the image of demo-images/Dockerfile, whose volume paths need no handover, against busybox:1.36).

Usage: python bench/bench_demo.py [--runs 10] [--batches 5] [--json] [--vs-image IMAGE]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bot.demos.engine import connect_engine, ensure_image  # noqa: E402
from bot.demos.hostdir import image_writable_paths, writable_root_tar  # noqa: E402
from bot.demos.runner import LABEL, OWNER_LABEL, run_scenario  # noqa: E402
from bot.demos.scenario import load_scenarios  # noqa: E402
from bot.demos.service import DemoService  # noqa: E402

OWNERS = {f"{socket.gethostname()}:{os.getpid()}"}  # every process of this bench that runs demos


def demo_image() -> str:
    return os.environ.get("DOCKBOT_DEMO_IMAGE", "").strip() or "busybox:1.36"


def timed(argv: list[str]) -> float:
    started = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    OWNERS.add(f"{socket.gethostname()}:{proc.pid}")
    _, stderr = proc.communicate()
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({proc.returncode}): {stderr.decode()[-500:]}")
    return elapsed


class CountingProxy:
    """A unix socket in front of the engine's that counts connections and HTTP requests going through."""

    REQUEST_LINE_END = b" HTTP/1.1\r\n"

    def __init__(self, target: str):
        self.target = target
        self.dir = tempfile.mkdtemp(prefix="dbp-")
        self.path = os.path.join(self.dir, "docker.sock")
        self.server = socket.socket(socket.AF_UNIX)
        self.server.bind(self.path)
        self.server.listen(64)
        self.connections = 0
        self.requests = 0
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            upstream = socket.socket(socket.AF_UNIX)
            upstream.connect(self.target)
            with self.lock:
                self.connections += 1
            threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, count: bool) -> None:
        tail = b""
        try:
            while data := source.recv(65536):
                if count:  # request lines end in " HTTP/1.1\r\n"; keep a tail for lines split across reads
                    seen = tail + data
                    with self.lock:
                        self.requests += seen.count(self.REQUEST_LINE_END)
                    tail = seen[-(len(self.REQUEST_LINE_END) - 1) :]
                sink.sendall(data)
        except OSError:
            pass
        for sock in (source, sink):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def take(self) -> tuple[int, int]:
        time.sleep(0.2)  # let the pumps finish counting
        with self.lock:
            counts = (self.connections, self.requests)
            self.connections = self.requests = 0
        return counts

    def close(self) -> None:
        self.server.close()
        with contextlib.suppress(OSError):
            os.unlink(self.path)
            os.rmdir(self.dir)


def requests_per_run() -> dict | None:
    """Connections and HTTP requests one run of each makes (None when the engine is not on a unix socket)."""
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    if not host.startswith("unix://"):
        return None
    proxy = CountingProxy(host.removeprefix("unix://"))
    env = {**os.environ, "DOCKER_HOST": f"unix://{proxy.path}"}
    counts = {}
    try:
        for name, argv in (
            ("bot", [sys.executable, "-m", "bot", "demo", "volumes"]),
            ("cli", ["sh", str(REPO / "bench" / "volumes_demo_cli.sh")]),
        ):
            proc = subprocess.Popen(argv, cwd=REPO, env=env, stdout=subprocess.DEVNULL)
            OWNERS.add(f"{socket.gethostname()}:{proc.pid}")  # its objects are counted in part 3
            proc.wait()
            connections, requests = proxy.take()
            counts[name] = {"exit": proc.returncode, "connections": connections, "requests": requests}
    finally:
        proxy.close()
    return counts


def cli_vs_bot(runs: int) -> dict:
    """Three ways, rotated every round so drift on this shared host hits all of them alike."""
    bot = [sys.executable, "-m", "bot", "demo", "volumes"]
    cli = ["sh", str(REPO / "bench" / "volumes_demo_cli.sh")]
    cli_nonroot = ["sh", str(REPO / "bench" / "volumes_demo_cli_nonroot.sh")]
    with tempfile.NamedTemporaryFile(prefix="dockbot-bench-", suffix=".tar", delete=False) as handover:
        handover.write(writable_root_tar())
    # An image that ships /data and /anon owned by the demo uid (demo-images/Dockerfile) needs no handover,
    # for the runner as for a person at the CLI: the non-root script then skips its `docker cp`s.
    api = connect_engine()
    pre_owned = {"/data", "/anon"} <= image_writable_paths(api.inspect_image(demo_image()))
    api.close()
    os.environ["HANDOVER_TAR"] = "" if pre_owned else handover.name
    scenarios = load_scenarios(REPO / "knowledge" / "demos")[0]
    service = DemoService(lambda: scenarios, image=demo_image())

    def warm() -> float:  # the bot as it runs in Slack or the chat: a live process with a connected client
        started = time.perf_counter()
        run = service.run("volumes", user="bench")
        if not run.ok:
            raise SystemExit(f"in-process demo failed: {run.error}")
        return time.perf_counter() - started

    ways = {
        "bot": lambda: timed(bot),
        "cli": lambda: timed(cli),
        "cli_nonroot": lambda: timed(cli_nonroot),
        "warm": warm,
    }
    for _ in range(2):  # warm-up: page cache, image, engine
        for way in ways.values():
            way()
    times: dict[str, list[float]] = {name: [] for name in ways}
    names = list(ways)
    for index in range(runs):
        for name in names[index % len(names) :] + names[: index % len(names)]:
            times[name].append(ways[name]())
    service.close()
    os.unlink(handover.name)
    medians = {name: statistics.median(values) for name, values in times.items()}
    return {
        "runs": runs,
        "image": demo_image(),
        "volumes_pre_owned_by_the_image": pre_owned,
        **{f"{name}_median_s": round(value, 3) for name, value in medians.items()},
        "ratio": round(medians["bot"] / medians["cli"], 3),
        "warm_ratio": round(medians["warm"] / medians["cli"], 3),
        "ratio_nonroot": round(medians["bot"] / medians["cli_nonroot"], 3),
        "warm_ratio_nonroot": round(medians["warm"] / medians["cli_nonroot"], 3),
        **{f"{name}_s": [round(t, 3) for t in values] for name, values in times.items()},
    }


def image_vs_image(other: str, runs: int) -> dict:
    """The same demo in a running bot on DOCKBOT_DEMO_IMAGE (A) and on `other` (B), alternated A B A B:
    e.g. the image that pre-owns the volume paths (no handover) against one that does not (uploads)."""
    scenarios = load_scenarios(REPO / "knowledge" / "demos")[0]
    services = {
        "a": DemoService(lambda: scenarios, image=demo_image()),
        "b": DemoService(lambda: scenarios, image=other),
    }
    times: dict[str, list[float]] = {"a": [], "b": []}
    for index in range(runs + 2):  # two warm-up rounds
        for name in ("a", "b"):
            started = time.perf_counter()
            run = services[name].run("volumes", user=f"bench-{name}")
            if not run.ok:
                raise SystemExit(f"in-process demo on {name} failed: {run.error}")
            if index >= 2:
                times[name].append(time.perf_counter() - started)
    for service in services.values():
        service.close()
    pairs = [a / b for a, b in zip(times["a"], times["b"], strict=True)]
    return {
        "a": demo_image(),
        "b": other,
        "a_median_s": round(statistics.median(times["a"]), 3),
        "b_median_s": round(statistics.median(times["b"]), 3),
        "ratio_median": round(statistics.median(pairs), 3),
        "ratio_min_max": [round(min(pairs), 3), round(max(pairs), 3)],
    }


def concurrency(levels: tuple[int, ...], batches: int) -> list[dict]:
    api = connect_engine()
    image = demo_image()
    ensure_image(api, image)
    scenario = load_scenarios(REPO / "knowledge" / "demos")[0]["volumes"]
    rows = []
    for level in levels:
        per_demo: list[float] = []
        failures = 0
        for batch in range(batches + 1):  # the first batch of each level warms up
            results = []

            def one(results=results) -> None:
                results.append(run_scenario(api, scenario, image=image))

            threads = [threading.Thread(target=one) for _ in range(level)]
            started = time.perf_counter()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            wall = time.perf_counter() - started
            if batch:
                per_demo.extend(run.duration_s for run in results)
                failures += sum(not run.ok for run in results)
        rows.append(
            {
                "concurrent": level,
                "per_demo_median_s": round(statistics.median(per_demo), 3),
                "per_demo_max_s": round(max(per_demo), 3),
                "throughput_per_s": round(level / statistics.median(per_demo), 2),
                "failed_runs": failures,
                "last_batch_wall_s": round(wall, 3),
            }
        )
    api.close()
    return rows


def leftovers(volumes_before: int) -> dict:
    """What this bench's own runs left (by owner label), plus engine-wide counts for context: other
    people's demos and tests may be running on the same engine at the same time."""
    api = connect_engine()
    selector = {"label": LABEL}
    containers = api.containers(all=True, filters=selector)
    volumes = api.volumes(filters=selector).get("Volumes") or []
    networks = api.networks(filters=selector)

    def ours(items: list[dict]) -> int:
        return sum((item.get("Labels") or {}).get(OWNER_LABEL) in OWNERS for item in items)

    left = {
        "our_containers": ours(containers),
        "our_volumes": ours(volumes),
        "our_networks": ours(networks),
        "our_cli_script_objects": len(api.containers(all=True, filters={"label": "dockbot.bench"}))
        + len(api.volumes(filters={"label": "dockbot.bench"}).get("Volumes") or []),
        "our_temp_dirs": len(list(Path(tempfile.gettempdir()).glob("dockbot-" + "[0-9a-f]" * 12 + "-*"))),
        "engine_wide_labelled_now": len(containers) + len(volumes) + len(networks),
        "engine_wide_volumes_added": len(api.volumes().get("Volumes") or []) - volumes_before,
    }
    api.close()
    return left


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--batches", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--vs-image",
        metavar="IMAGE",
        help="only: the in-process demo on DOCKBOT_DEMO_IMAGE vs on IMAGE, paired",
    )
    args = parser.parse_args()
    if args.vs_image:
        row = image_vs_image(args.vs_image, args.runs)
        if args.json:
            print(json.dumps(row, indent=2))
            return 0
        print(f"in-process volumes demo, {args.runs} pairs, A = {row['a']}, B = {row['b']}")
        print(f"   A median {row['a_median_s']:.3f} s, B median {row['b_median_s']:.3f} s")
        low, high = row["ratio_min_max"]
        print(f"   paired ratio A/B median {row['ratio_median']:.3f} (min {low:.3f}, max {high:.3f})")
        return 0
    api = connect_engine()
    volumes_before = len(api.volumes().get("Volumes") or [])
    api.close()
    load = os.getloadavg()[0]
    per_run = requests_per_run()
    head_to_head = cli_vs_bot(args.runs)
    levels = concurrency((1, 2, 4), args.batches)
    left = leftovers(volumes_before)
    report = {
        "load_avg_1m_at_start": round(load, 2),
        "requests_per_run": per_run,
        "volumes_demo": head_to_head,
        "concurrency": levels,
        "left": left,
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"host: {os.cpu_count()} CPUs, 1-min load average at start {load:.2f}")
    # With PYTHONDONTWRITEBYTECODE=1 and no bot/__pycache__, every new process compiles bot/ (~10 ms);
    # an installed wheel has its bytecode (`python -m compileall bot` gives the same here).
    compiled = any((REPO / "bot" / "demos" / "__pycache__").glob("runner.*.pyc"))
    print(f"bytecode of bot/ cached: {'yes' if compiled else 'no'}")
    if per_run:
        print("\n0. one volumes demo through a counting proxy on the engine socket")
        for name, label in (("bot", "dockbot demo volumes"), ("cli", "docker CLI script")):
            row = per_run[name]
            print(
                f"   {label:<22} {row['requests']:>3} HTTP requests over {row['connections']:>2} connections"
                f"  (exit {row['exit']})"
            )
    print(f"\n1. volumes demo, {args.runs} alternated runs each (whole process wall time)")
    handover = "none (copy-up)" if head_to_head["volumes_pre_owned_by_the_image"] else "archive uploads"
    print(f"   image {head_to_head['image']}: volume handover to uid 65534 by {handover}")
    print(f"   dockbot demo volumes   median {head_to_head['bot_median_s']:.3f} s   {head_to_head['bot_s']}")
    print(f"   docker CLI script      median {head_to_head['cli_median_s']:.3f} s   {head_to_head['cli_s']}")
    print(f"   ratio dockbot / CLI    {head_to_head['ratio']:.2f}x")
    print(
        f"   in-process (warm bot)  median {head_to_head['warm_median_s']:.3f} s   {head_to_head['warm_s']}"
    )
    print(f"   ratio warm / CLI       {head_to_head['warm_ratio']:.2f}x")
    print(
        f"   CLI script, non-root   median {head_to_head['cli_nonroot_median_s']:.3f} s"
        f"   {head_to_head['cli_nonroot_s']}"
    )
    print(
        f"   vs the non-root script: dockbot {head_to_head['ratio_nonroot']:.2f}x,"
        f" warm {head_to_head['warm_ratio_nonroot']:.2f}x"
    )
    print(
        f"\n2. volumes demo at once ({args.batches} measured batches per level, runner threads, one client)"
    )
    print("   concurrent  per-demo median  per-demo max  throughput  failed")
    for row in levels:
        print(
            f"   {row['concurrent']:>10}  {row['per_demo_median_s']:>13.3f} s"
            f"  {row['per_demo_max_s']:>10.3f} s"
            f"  {row['throughput_per_s']:>7.2f}/s  {row['failed_runs']:>6}"
        )
    print("\n3. left behind afterwards")
    for key, value in left.items():
        print(f"   {key:<24} {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
