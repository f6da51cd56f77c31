"""Fixtures of the reliability suite (fuzzing, faults, load, security).

- `figures`: what each test tried and what held, collected for docs/reliability.md. Printed at the end of the
  run, and written as JSON to $DOCKBOT_RELIABILITY_FIGURES when set (bench/reliability_report.py does that).
- `second_engine`: a test-owned dockerd in its own network namespace (tests/second_engine.py)
  that fault tests may stop and start again, never the main engine other tests use.
- `scenario_from_yaml`: a Scenario through the real loader (bot/demos/scenario.py), for fault scenarios.
"""

from __future__ import annotations

import os
import textwrap
from pathlib import Path
from typing import Any

import pytest

from tests.reliability.figures import FIGURES, Figures
from tests.second_engine import SecondEngine
from tests.second_engine import unavailable_reason as engine_unavailable_reason

DEMO_IMAGE = os.environ.get("DOCKBOT_DEMO_IMAGE", "busybox:1.36")


@pytest.fixture(scope="session")
def figures() -> Figures:
    return FIGURES


def pytest_terminal_summary(terminalreporter: Any) -> None:
    values = FIGURES.snapshot()
    if not values:
        return
    terminalreporter.section("reliability figures")
    for area in sorted(values):
        shown = ", ".join(f"{k}={_fmt(v)}" for k, v in sorted(values[area].items()))
        terminalreporter.write_line(f"{area}: {shown}")
    target = os.environ.get("DOCKBOT_RELIABILITY_FIGURES", "").strip()
    if target:
        FIGURES.write(Path(target))


def _fmt(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


# ---- scenarios ------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def scenario_from_yaml():
    """Build a Scenario from YAML text with the demo owner's loader (so faults use real, valid scenarios)."""
    from bot.demos.scenario import parse_scenario
    from bot.yamlfile import parse_yaml

    def build(text: str, name: str = "fault.yaml"):
        scenario, problems = parse_scenario(parse_yaml(textwrap.dedent(text), name))
        assert scenario is not None and not problems, [str(p) for p in problems]
        return scenario

    return build


# ---- Docker engines ---------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def second_engine(docker_client):
    """A test-owned dockerd (its own network namespace: see tests/second_engine.py) with the demo image
    loaded from the main engine (no registry is reachable)."""
    reason = engine_unavailable_reason()
    engine = None
    if reason is None:
        engine = SecondEngine.create()
        try:
            engine.start()
            engine.load_image(docker_client.api, DEMO_IMAGE)
        except Exception as exc:
            engine.close()
            engine, reason = None, f"cannot start a test-owned dockerd: {exc}"
    if engine is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true but {reason}")
        pytest.skip(reason)
    yield engine
    engine.close()
