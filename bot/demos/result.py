"""The result of a demo run: what every door (CLI, terminal chat, Slack) renders.

Stable contract (the Slack app renders these into Block Kit; keep field names and meanings):

- `StepResult(title, command, output, expectations, ok, duration_s, error)`
    title: Korean step title from the scenario.
    command: the equivalent `docker` CLI command with the scenario's friendly names (people learn these).
    output: the step's real output, truncated for display (OUTPUT_MAX_LINES lines / OUTPUT_MAX_CHARS chars).
    expectations: (Korean text, held?) pairs, e.g. ("종료 코드 0", True); empty when nothing is checked.
    ok: every expectation held and the step did not fail.
    duration_s: wall time of the step.
    error: a Korean sentence when the step itself failed (deadline, engine error), else None.
- `DemoRun(demo, title, ok, steps, duration_s, error, finished, conclusion, run_id, explanation, total_steps)`
    demo: scenario name; title: Korean title; steps: the StepResults so far (progress sees a growing list).
    ok: finished, no error and every step ok. error: a Korean sentence when the run stopped early, else None.
    finished: False while the run is in progress (progress callbacks), True at the end (cleanup done).
    conclusion: the scenario's closing sentence (say it only when ok). explanation: its Korean introduction.
    run_id: the `dockbot.demo` label value on everything this run created. total_steps: len(scenario.steps).
    interrupted: the run was stopped from outside (the bot shutting down, Ctrl-C) before its last step.
- `.to_json()` -> {"demo", "title", "ok", "steps": [{"title", "command", "output",
  "expectations": [{"text", "ok"}], "ok", "duration_s", "error"}], "duration_s", "error", "finished",
  "conclusion", "run_id", "interrupted"}.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

OUTPUT_MAX_LINES = 20
OUTPUT_MAX_CHARS = 1500


def truncate_output(text: str) -> str:
    """Shorten output for display; the marker says that something was cut."""
    lines = text.rstrip("\n").splitlines()
    cut = len(lines) > OUTPUT_MAX_LINES
    shown = "\n".join(lines[:OUTPUT_MAX_LINES])
    if len(shown) > OUTPUT_MAX_CHARS:
        shown, cut = shown[:OUTPUT_MAX_CHARS], True
    return shown + ("\n… (잘림)" if cut else "")


@dataclass
class StepResult:
    title: str
    command: str
    output: str
    expectations: list[tuple[str, bool]] = field(default_factory=list)
    ok: bool = True
    duration_s: float = 0.0
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "command": self.command,
            "output": self.output,
            "expectations": [{"text": text, "ok": held} for text, held in self.expectations],
            "ok": self.ok,
            "duration_s": round(self.duration_s, 3),
            "error": self.error,
        }


@dataclass
class DemoRun:
    demo: str
    title: str
    ok: bool = False
    steps: list[StepResult] = field(default_factory=list)
    duration_s: float = 0.0
    error: str | None = None
    finished: bool = False
    conclusion: str = ""
    run_id: str = ""
    explanation: str = ""
    total_steps: int = 0
    interrupted: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "demo": self.demo,
            "title": self.title,
            "ok": self.ok,
            "steps": [step.to_json() for step in self.steps],
            "duration_s": round(self.duration_s, 3),
            "error": self.error,
            "finished": self.finished,
            "conclusion": self.conclusion,
            "run_id": self.run_id,
            "interrupted": self.interrupted,
        }


# Called after each step with the run so far (from the service's worker thread).
ProgressCallback = Callable[[DemoRun], None]
