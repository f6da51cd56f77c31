"""What each reliability test tried and what held, collected for docs/reliability.md.

One process-wide store: tests add counters and values (`FIGURES.add("fuzz_matcher", "inputs")`); the suite's
conftest prints them at the end of the run and writes them as JSON to $DOCKBOT_RELIABILITY_FIGURES when set
(bench/reliability_report.py reads that file).
"""

from __future__ import annotations

import json
import threading
from collections import defaultdict
from pathlib import Path
from typing import Any


class Figures:
    def __init__(self) -> None:
        self._values: dict[str, dict[str, Any]] = defaultdict(dict)
        self._lock = threading.Lock()

    def add(self, area: str, name: str, amount: float = 1) -> None:
        with self._lock:
            self._values[area][name] = self._values[area].get(name, 0) + amount

    def set(self, area: str, name: str, value: Any) -> None:
        with self._lock:
            self._values[area][name] = value

    def most(self, area: str, name: str, value: float) -> None:
        """Keep the largest value seen (e.g. the slowest match)."""
        with self._lock:
            self._values[area][name] = max(value, self._values[area].get(name, value))

    def snapshot(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return {area: dict(values) for area, values in self._values.items()}

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(self.snapshot(), indent=2, sort_keys=True, ensure_ascii=False))


FIGURES = Figures()
