"""Score the matcher on labelled questions (tests/data/heldout-*.yaml): top-1, top-3, off-topic rejection.

Shared by tests/test_heldout.py (floors) and bench/bench_matcher.py (figures). "Answered right" counts
what a user sees: a confident answer with the expected entry (suggestions don't count); "rejected" counts
off-topic questions that got no confident answer.
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


@dataclass
class Score:
    in_scope: int = 0
    off_topic: int = 0
    top1: int = 0
    top3: int = 0
    answered_right: int = 0
    answered_wrong: int = 0
    rejected: int = 0
    by_style: Counter = field(default_factory=Counter)
    style_total: Counter = field(default_factory=Counter)
    misses: list[str] = field(default_factory=list)

    def rate(self, name: str) -> float:
        total = self.off_topic if name == "rejected" else self.in_scope
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
                )
            )
    return out


def score(matcher: Matcher, labelled: list[Labelled]) -> Score:
    result = Score()
    entries = matcher.kb.entries
    for item in labelled:
        answer = matcher.match(item.question)
        got = answer.match.entry.id if answer.match is not None else None
        if item.expect is None:
            result.off_topic += 1
            result.rejected += got is None
            if got is not None:
                result.misses.append(f"{item.where}: off-topic answered with {got}")
            continue
        result.in_scope += 1
        result.style_total[item.style] += 1
        ranked = [entries[s.index].id for s in matcher.rank(item.question)[:3]]
        result.top1 += bool(ranked) and ranked[0] == item.expect
        result.top3 += item.expect in ranked
        if got == item.expect:
            result.answered_right += 1
            result.by_style[item.style] += 1
        else:
            result.answered_wrong += got is not None
            result.misses.append(f"{item.where}: expected {item.expect}, got {got} ({answer.outcome})")
    return result
