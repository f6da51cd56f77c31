"""Run the README's test command in a fresh clone against an engine that has no demo image.

What a newcomer sees (issue 13, "tests a newcomer can run"): a fresh `git clone`, a fresh venv,
`pip install -e '.[test]' && python -m pytest`, a Docker engine that answers but holds no busybox:1.36.
The engine is a second, test-owned dockerd with its own empty data root in its own network namespace
(tests/second_engine.py), so the shared engine and its busybox:1.36 are not touched.

    python bench/fresh_clone_tests.py [--ref main] [--no-busybox] [-- PYTEST ARGS...]

--no-busybox also hides /bin/busybox (busybox-static) from the test run (a private mount namespace,
`unshare --mount`, with /dev/null bound over it): the demo tests must then skip with the reason instead of
building the image. Prints the pytest summary, the skip reasons counted, and the wall time; asserts nothing.
Needs root, dockerd, unshare, git. The venv sees the system site-packages (as the helpers' venvs do), so
only what is missing there is installed.
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from second_engine import SecondEngine, unavailable_reason  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ref", default="main", help="branch or commit of this repository to clone")
    parser.add_argument("--no-busybox", action="store_true", help="hide /bin/busybox from the test run")
    parser.add_argument("--keep", action="store_true", help="keep the clone and venv afterwards")
    parser.add_argument("pytest_args", nargs="*", help="extra pytest arguments (after --)")
    args = parser.parse_args()
    if reason := unavailable_reason():
        raise SystemExit(f"cannot run: {reason}")

    work = Path(tempfile.mkdtemp(prefix="dockbot-fresh-", dir="/tmp"))
    clone, venv = work / "dockbot", work / "venv"
    subprocess.run(["git", "clone", "-q", "--no-local", str(REPO), str(clone)], check=True)
    subprocess.run(["git", "-C", str(clone), "checkout", "-q", args.ref], check=True)
    commit = subprocess.run(
        ["git", "-C", str(clone), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    shared = REPO.parent.parent / "shared"  # tests reading ../shared find it beside the clone, as in CI
    if shared.is_dir() and not (work / "shared").exists():
        (work / "shared").symlink_to(shared)
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)

    engine = SecondEngine.create(prefix="dbf-")
    try:
        engine.start()
        images = engine.api().images()
        print(f"fresh clone of {args.ref} at {commit}; engine {engine.host} holds {len(images)} images")
        env = {key: value for key, value in os.environ.items() if not key.startswith(("DOCKBOT_", "SLACK_"))}
        env.update(DOCKER_HOST=engine.host, PATH=f"{venv / 'bin'}:{env.get('PATH', '')}", HOME=str(work))
        env.pop("CI", None)
        env.pop("VIRTUAL_ENV", None)
        test_command = "pip install -q -e '.[test]' && python -m pytest -rfEs -p no:cacheprovider " + (
            shlex.join(args.pytest_args)
        )
        if args.no_busybox:
            test_command = f"mount --bind /dev/null /bin/busybox && {test_command}"
            argv = ["unshare", "--mount", "--propagation", "private", "sh", "-c", test_command]
        else:
            argv = ["sh", "-c", test_command]
        started = time.monotonic()
        proc = subprocess.run(argv, cwd=clone, env=env, capture_output=True, text=True)
        elapsed = time.monotonic() - started
    finally:
        engine.close()
    output = proc.stdout + proc.stderr
    (work / "pytest.log").write_text(output)
    summary = [line for line in output.splitlines() if re.match(r"^=+ .*(passed|failed|error|skipped)", line)]
    reasons: collections.Counter[str] = collections.Counter()
    for line in output.splitlines():  # -rs: "SKIPPED [count] file:line: reason"
        if skipped := re.match(r"^SKIPPED \[(\d+)\] [^:]+:\d+: (.*)", line):
            reasons[skipped.group(2)] += int(skipped.group(1))
    print(f"exit {proc.returncode} after {elapsed:.0f} s; log {work / 'pytest.log'}")
    print(summary[-1] if summary else output[-3000:])
    for reason, count in reasons.most_common():
        print(f"  skipped {count:3d}: {reason}")
    failures = [line for line in output.splitlines() if line.startswith(("FAILED", "ERROR"))]
    for line in failures:
        print(f"  {line}")
    if not args.keep:  # everything but the log (HOME was the work dir: pip's cache too)
        for path in work.iterdir():
            if path.name != "pytest.log":
                subprocess.run(["rm", "-rf", str(path)], check=False)
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main())
