"""Score the matcher on labelled questions: top-1, top-3, answered right/wrong, rejection, confusions.

Files: development data (tests/data/heldout-*.yaml, style `offtopic` for expect null) and the sealed set
(tests/data/sealed-*.yaml: `{q, expect, style, kind: in-scope|uncovered|off-topic}`), which is scored, never
read by people tuning the matcher: nothing here prints a question of a file marked sealed.
Shared by tests/test_heldout.py (floors) and bench/bench_matcher.py (figures). "Answered right" counts
what a user sees: a confident answer with the expected entry (suggestions don't count); "rejected" counts
off-topic (and, separately, uncovered) questions that got no confident answer.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from bot.matcher import Matcher
from bot.yamlfile import read_yaml


@dataclass(frozen=True)
class Labelled:
    question: str
    expect: str | None
    style: str
    where: str  # path:line
    kind: str = "in-scope"  # in-scope | off-topic | uncovered


@dataclass
class Score:
    in_scope: int = 0
    off_topic: int = 0
    top1: int = 0
    top3: int = 0
    answered_right: int = 0
    answered_wrong: int = 0
    rejected: int = 0
    uncovered: int = 0
    rejected_uncovered: int = 0
    by_style: Counter = field(default_factory=Counter)  # answered right per style
    top1_by_style: Counter = field(default_factory=Counter)
    style_total: Counter = field(default_factory=Counter)
    confusions: Counter = field(default_factory=Counter)  # (expected id, top-1 id) of in-scope misses
    misses: list[str] = field(default_factory=list)

    def rate(self, name: str) -> float:
        total = {"rejected": self.off_topic, "rejected_uncovered": self.uncovered}.get(name, self.in_scope)
        return getattr(self, name) / total if total else 0.0


def load_labelled(paths: list[Path]) -> list[Labelled]:
    out = []
    for path in paths:
        doc = read_yaml(path)
        for i, item in enumerate(doc.data.get("questions") or []):
            out.append(
                Labelled(
                    question=str(item["q"]),
                    expect=item.get("expect"),
                    style=str(item.get("style", "")),
                    where=f"{doc.path}:{doc.line_of(('questions', i))}",
                    kind=str(item.get("kind") or ("in-scope" if item.get("expect") else "off-topic")),
                )
            )
    return out


def score(matcher: Matcher, labelled: list[Labelled], *, sealed: bool = False) -> Score:
    """Figures for the labelled questions; `sealed`: misses name only the file line, never the question."""
    result = Score()
    entries = matcher.kb.entries
    for item in labelled:
        answer = matcher.match(item.question)
        got = answer.match.entry.id if answer.match is not None else None
        if item.expect is None:
            if item.kind == "uncovered":
                result.uncovered += 1
                result.rejected_uncovered += got is None
            else:
                result.off_topic += 1
                result.rejected += got is None
            if got is not None:
                result.misses.append(f"{item.where}: {item.kind} answered with {got}")
            continue
        result.in_scope += 1
        result.style_total[item.style] += 1
        ranked = [entries[s.index].id for s in matcher.rank(item.question)[:3]]
        first = bool(ranked) and ranked[0] == item.expect
        result.top1 += first
        result.top1_by_style[item.style] += first
        result.top3 += item.expect in ranked
        if not first:
            result.confusions[(item.expect, ranked[0] if ranked else None)] += 1
        if got == item.expect:
            result.answered_right += 1
            result.by_style[item.style] += 1
        else:
            result.answered_wrong += got is not None
            result.misses.append(f"{item.where}: expected {item.expect}, got {got} ({answer.outcome})")
    if sealed:
        result.misses = []
    return result


def sealed_round(path: Path) -> int:
    """N of sealed-rN.yaml or sealed-rNx.yaml (a second writer's set of round N); 0 without a number."""
    tail = path.stem.rsplit("-r", 1)[-1]
    digits = tail[: len(tail) - len(tail.lstrip("0123456789"))]
    return int(digits) if digits else 0


# The round being worked on: its sealed sets (sealed-r8*.yaml) are scored, never read or fitted on; every
# older round's sealed set is development data. Bump at the start of each round.
CURRENT_ROUND = 8


def evaluation_files(data: Path, current_round: int = CURRENT_ROUND) -> tuple[list[Path], list[Path]]:
    """(development files, sealed files): the sealed sets of the current round (or a later one) are sealed,
    every older one is development data."""
    sealed = sorted(data.glob("sealed-*.yaml"), key=lambda p: (sealed_round(p), p.name))
    dev = sorted([*data.glob("heldout-*.yaml"), *data.glob("dev-*.yaml")])
    dev += [p for p in sealed if sealed_round(p) < current_round]
    return dev, [p for p in sealed if sealed_round(p) >= current_round]


def outside_writers(dev_files: list[Path]) -> dict[str, list[Path]]:
    """The development files written by people who never read the entries, one group per writer: the
    held-out files of round 1 together, each older sealed set alone (dev-*.yaml were written by matcher
    helpers and are not outside questions). The unit of leave-one-writer-out."""
    groups: dict[str, list[Path]] = {}
    for path in dev_files:
        if path.name.startswith("heldout-"):
            groups.setdefault("heldout", []).append(path)
        elif path.name.startswith("sealed-"):
            groups[path.stem] = [path]
    return groups
