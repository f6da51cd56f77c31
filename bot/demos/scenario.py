"""Load and validate demo scenarios (knowledge/demos/*.yaml) into immutable `Scenario`s.

A scenario is data an admin can read: a name, a Korean title/explanation/conclusion, the knowledge entry it
belongs to, and steps from the fixed vocabulary of bot/demos/operations.py. Every problem is reported as
`path:line: message`, and a file with problems contributes no scenario (the others still load).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from dataclasses import dataclass as _dataclass
from pathlib import Path
from typing import Any

from bot.demos.operations import OPERATIONS, RESERVED_NETWORKS, Operation, sandbox_hint
from bot.demos.schema import FieldError, build, checked, choice, seconds, text
from bot.yamlfile import Problem, YamlDocument, YamlFileError, read_yaml

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9-]{0,39}$")
DEFAULT_DEMO_TIMEOUT_S = 60.0
MAX_DEMO_TIMEOUT_S = 300.0
DEFAULT_STEP_TIMEOUT_S = 15.0
MAX_STEPS = 40
# Where a demo runs: "docker" (the engine in DOCKER_HOST) or "kubernetes" (the cluster in DOCKBOT_KUBECONFIG).
# Each platform has its own fixed vocabulary of steps.
PLATFORMS = ("docker", "kubernetes")


def operations_for(platform: str) -> tuple[Mapping[str, type], Callable[[str], str]]:
    """The platform's step vocabulary and the hint that names sandbox-loosening fields as refused."""
    if platform == "kubernetes":
        from bot.demos.kube_operations import KUBE_OPERATIONS, kube_sandbox_hint

        return KUBE_OPERATIONS, kube_sandbox_hint
    return OPERATIONS, sandbox_hint


@dataclass(frozen=True)
class Scenario:
    """One demo. `steps` are validated operations; `path`/`line` say where it was defined."""

    name: str
    title: str
    entry: str
    explanation: str
    conclusion: str
    steps: tuple[Operation, ...]
    timeout_s: float
    step_timeout_s: float
    path: str
    line: int
    platform: str = "docker"


def _steps(value: Any) -> list[Any]:
    if not isinstance(value, list) or not value:
        raise ValueError("must be a non-empty list of steps")
    if len(value) > MAX_STEPS:
        raise ValueError(f"has {len(value)} steps; the limit is {MAX_STEPS}")
    return value


@_dataclass(frozen=True)
class _Header:
    name: str = checked(text(max_length=40, pattern=NAME_PATTERN.pattern, hint="must be a-z, 0-9 and -"))
    title: str = checked(text(max_length=200))
    entry: str = checked(
        text(max_length=80, pattern=r"[a-z0-9][a-z0-9-]*", hint="must be a knowledge entry id")
    )
    explanation: str = checked(text(max_length=3000))
    conclusion: str = checked(text(max_length=3000))
    steps: list = checked(_steps)  # noqa: RUF009 (checked() returns a dataclasses.field)
    timeout_s: float = checked(seconds(high=MAX_DEMO_TIMEOUT_S), DEFAULT_DEMO_TIMEOUT_S)
    step_timeout_s: float = checked(seconds(high=120), DEFAULT_STEP_TIMEOUT_S)
    platform: str = checked(choice(PLATFORMS), "docker")


def is_plain_name(text: object) -> bool:
    """True when `text` could be a scenario name at all (`volumes; rm -rf /` is not)."""
    return isinstance(text, str) and bool(NAME_PATTERN.fullmatch(text))


def load_scenarios(directory: Path) -> tuple[dict[str, Scenario], list[Problem]]:
    """All valid scenarios of `directory/*.yaml` by name, and the problems of the invalid ones.

    A missing directory is no scenarios and no problem (demos are optional).
    """
    if not directory.is_dir():
        return {}, []
    return load_scenario_files(sorted(p for p in directory.glob("*.y*ml") if p.suffix in {".yaml", ".yml"}))


def load_scenario_files(paths: list[Path]) -> tuple[dict[str, Scenario], list[Problem]]:
    """Like `load_scenarios` for an explicit list of files (the CLI reads just `NAME.yaml` when it can)."""
    scenarios: dict[str, Scenario] = {}
    problems: list[Problem] = []
    for path in paths:
        if not path.is_file():
            continue
        try:
            doc = read_yaml(path)
        except YamlFileError as exc:
            problems.extend(exc.problems)
            continue
        scenario, found = parse_scenario(doc)
        if scenario is not None and scenario.name in scenarios:
            first = scenarios[scenario.name]
            found.append(
                doc.problem(
                    ("name",), f"demo '{scenario.name}' is already defined in {first.path}:{first.line}"
                )
            )
        problems.extend(found)
        if scenario is not None and not found:
            scenarios[scenario.name] = scenario
    return scenarios, problems


def parse_scenario(doc: YamlDocument) -> tuple[Scenario | None, list[Problem]]:
    """Validate one scenario document; the Scenario is None when the header itself is unusable."""
    if not isinstance(doc.data, Mapping):
        return None, [
            doc.problem((), "a demo file must be a mapping with name, title, entry, explanation, steps")
        ]
    try:
        header = build(_Header, doc.data, what="demo", unknown_hint=sandbox_hint)
    except FieldError as exc:
        return None, [doc.problem(loc, message) for loc, message in exc.problems]
    problems: list[Problem] = []
    steps: list[Operation] = []
    vocabulary, hint = operations_for(header.platform)
    for index, raw in enumerate(header.steps):
        step = _parse_step(doc, index, raw, problems, vocabulary, hint)
        if step is not None:
            steps.append(step)
    if not problems:
        problems.extend(_check_references(doc, steps))
    scenario = Scenario(
        name=header.name,
        title=header.title,
        entry=header.entry,
        explanation=header.explanation.strip(),
        conclusion=header.conclusion.strip(),
        steps=tuple(steps),
        timeout_s=header.timeout_s,
        step_timeout_s=header.step_timeout_s,
        path=doc.path,
        line=doc.line_of(("name",)),
        platform=header.platform,
    )
    return scenario, problems


def _parse_step(
    doc: YamlDocument,
    index: int,
    raw: object,
    problems: list[Problem],
    vocabulary: Mapping[str, type],
    hint: Callable[[str], str],
) -> Operation | None:
    where = ("steps", index)
    if not isinstance(raw, Mapping):
        problems.append(doc.problem(where, f"step {index + 1} must be a mapping with an 'op'"))
        return None
    op = raw.get("op")
    cls = vocabulary.get(op) if isinstance(op, str) else None
    if cls is None:
        known = ", ".join(sorted(vocabulary))
        what = "has no 'op'" if op is None else f"has unknown operation '{op}'"
        problems.append(doc.problem((*where, "op"), f"step {index + 1} {what} (known: {known})"))
        return None
    try:
        return build(cls, raw, what=f"step {index + 1} ({op})", unknown_hint=hint)
    except FieldError as exc:
        problems.extend(doc.problem((*where, *loc), message) for loc, message in exc.problems)
        return None


def _check_references(doc: YamlDocument, steps: list[Operation]) -> list[Problem]:
    """Every alias a step uses exists at that point: created by an earlier step and not removed since."""
    problems: list[Problem] = []
    alive: defaultdict[str, set[str]] = defaultdict(set)
    for index, step in enumerate(steps):
        label = f"step {index + 1} ({step.name})"
        for kind, alias, loc in step.uses():
            if alias in alive[kind]:
                continue
            if kind == "container":
                message = (
                    f"{label}: container '{alias}' is not started by an earlier run step (or was removed)"
                )
            elif kind in {"deployment", "service"}:
                message = f"{label}: {kind} '{alias}' is not made by an earlier create_{kind} step"
            else:
                message = f"{label}: {kind} '{alias}' is not made by an earlier create_{kind} step"
            if kind == "network" and alias in RESERVED_NETWORKS:
                message += "; demos only use their own internal networks, never host or bridge"
            problems.append(doc.problem(("steps", index, *loc), message))
        for kind, alias in step.removes().items():
            alive[kind].discard(alias)
        for kind, alias in step.creates().items():
            if alias in alive[kind]:
                problems.append(doc.problem(("steps", index), f"{label}: {kind} '{alias}' already exists"))
            alive[kind].add(alias)
    return problems
