"""Rerun the reliability suite (tests/reliability/) and print its figures, for docs/reliability.md.

    python bench/reliability_report.py                 # every part
    python bench/reliability_report.py fuzz load       # some parts: fuzz, faults, load, security
    python bench/reliability_report.py --json          # the raw figures as JSON

The tests record what they tried and what held (tests/reliability/figures.py); this runs them with
$DOCKBOT_RELIABILITY_FIGURES pointing at a temporary file, then prints one table per part plus the pytest
outcome and wall time. It exits non-zero when a test failed: a figure from a failing run is no figure.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SUITE = REPO / "tests" / "reliability"
PARTS = {
    "fuzz": ["test_fuzz_matcher.py", "test_fuzz_yaml.py", "test_fuzz_slack_payloads.py"],
    "faults": ["test_faults_docker.py", "test_faults_store.py"],
    "load": ["test_load_http.py"],
    "security": [
        "test_security_sandbox.py",
        "test_security_access.py",
        "test_security_unverified.py",
        "test_security_bodies.py",
        "test_security_flood.py",
        "test_security_payload_values.py",
    ],
}


def run_part(files: list[str], figures_file: Path) -> tuple[int, str, float]:
    env = {**os.environ, "DOCKBOT_RELIABILITY_FIGURES": str(figures_file)}
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", *(str(SUITE / f) for f in files), "-q", "-p", "no:cacheprovider"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
    )
    summary = next(
        (
            line.strip("= ")
            for line in reversed(done.stdout.splitlines())
            if re.search(r"\d+ (passed|failed)", line)
        ),
        "no pytest summary",
    )
    if done.returncode != 0:
        sys.stderr.write(done.stdout[-6000:] + done.stderr[-2000:])
    return done.returncode, summary, time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    # (no `choices`: argparse rejects an empty list for nargs="*" with choices)
    parser.add_argument("parts", nargs="*", help=f"any of {', '.join(PARTS)} (default: all)")
    parser.add_argument("--json", action="store_true", help="print the raw figures as JSON")
    args = parser.parse_args()
    parts = args.parts or list(PARTS)
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        parser.error(f"unknown part(s) {', '.join(unknown)}; choose from {', '.join(PARTS)}")
    results: dict[str, dict] = {}
    failed = False
    for part in parts:
        with tempfile.TemporaryDirectory() as tmp:
            figures_file = Path(tmp) / "figures.json"
            code, summary, seconds = run_part(PARTS[part], figures_file)
            figures = json.loads(figures_file.read_text()) if figures_file.exists() else {}
        failed |= code != 0
        results[part] = {"pytest": summary, "seconds": round(seconds, 1), "figures": figures}
        if not args.json:
            print(f"\n## {part}: {summary} ({seconds:.0f} s wall)")
            for area in sorted(figures):
                print(f"\n{area}:")
                for name, value in sorted(figures[area].items()):
                    print(f"  {name:<45} {value}")
    if args.json:
        print(json.dumps(results, indent=2, ensure_ascii=False, sort_keys=True))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
