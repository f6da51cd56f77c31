"""Fit the matcher's decision thresholds from the knowledge base itself, and cache them.

In-scope evidence: every example question scored leave-one-out (its own string removed from the index), so
it looks like a new question of that entry. Out-of-scope evidence: knowledge/off-topic.yaml, each question
also left out of the off-topic word counts the matcher's "generic words" penalty is built from.
- answer threshold: minimises (share of in-scope questions not answered correctly) + (share of off-topic
  questions answered), i.e. balanced error; placed midway into the gap below the best cut.
- suggest threshold: the 90th-percentile off-topic score, so nearly every off-topic question gets a plain
  "모르겠어요" instead of odd suggestions (never above the answer threshold).

Fitting scores ~2,000 questions (about a second), too slow for a 0.5 s cold start, so the result is cached
in $XDG_CACHE_HOME/dockbot (default ~/.cache/dockbot) keyed by a hash of everything the scores depend on.
It is recomputed whenever that file is missing or unreadable; knowledge/ is never written.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.matcher import Matcher, Thresholds

log = logging.getLogger(__name__)

# Bump when the scoring changes: old cache files then simply stop matching.
SCORING_VERSION = "e1-knn-5"
# Share of the off-topic file that gets a plain no-answer rather than suggestions.
SUGGEST_QUANTILE = 0.9
KEEP_FILES = 16
# A provisional (quick) fit scores about QUICK_QUESTIONS example questions (the same share of every
# entry) and all off-topic questions, re-scoring QUICK_CANDIDATES candidates each.
QUICK_QUESTIONS = 80
QUICK_CANDIDATES = 5


@dataclass(frozen=True)
class Evidence:
    """Leave-one-out results of the example questions and scores of the off-topic questions."""

    in_scope: list[tuple[float, bool]]  # (top score, top-1 was the right entry)
    off_topic: list[float]
    confusions: list[tuple[str, int, str, str]]  # (entry id, question number, question, answered id)


def collect_evidence(matcher: Matcher, every: int = 1, limit: int | None = None) -> Evidence:
    """Score the example questions leave-one-out (every `every`-th of each entry) and the off-topic file.

    `limit`: candidates re-scored per question (default: the matcher's); fewer is faster, and the top
    score only differs when the best entry is not among BM25's first `limit`."""
    kwargs = {} if limit is None else {"limit": limit}
    index = matcher.index
    in_scope: list[tuple[float, bool]] = []
    confusions = []
    for e, entry in enumerate(index.entries):
        for j, question in enumerate(entry.questions):
            if (j + e) % every:
                continue
            ranked = matcher.rank(question, exclude=(e, j), **kwargs)
            if not ranked:
                in_scope.append((0.0, False))
                continue
            right = ranked[0].index == e
            in_scope.append((ranked[0].score, right))
            if not right:
                confusions.append((entry.id, j, question, index.entries[ranked[0].index].id))
    off = []
    for question in matcher.kb.off_topic:
        ranked = matcher.rank(question, off_topic_left_out=True, **kwargs)
        off.append(ranked[0].score if ranked else 0.0)
    return Evidence(in_scope, off, confusions)


def fit(evidence: Evidence) -> tuple[float, float]:
    """(answer, suggest) thresholds from the evidence (see the module doc)."""
    ins, off = evidence.in_scope, evidence.off_topic
    if not ins:
        return 1.01, 1.01
    if not off:
        # No negative evidence: answer whatever an example question would have been answered with.
        lowest = min((s for s, ok in ins if ok), default=0.0)
        return lowest, lowest
    cuts = sorted({s for s, _ in ins} | set(off) | {1.01})
    best_cut, best_err = cuts[0], float("inf")
    n_in, n_off = len(ins), len(off)
    for cut in cuts:
        missed = sum(1 for s, ok in ins if not (ok and s >= cut))
        passed = sum(1 for s in off if s >= cut)
        err = missed / n_in + passed / n_off
        if err < best_err - 1e-12:
            best_cut, best_err = cut, err
    below = max((c for c in cuts if c < best_cut), default=best_cut)
    answer = (best_cut + below) / 2
    ranked = sorted(off)
    suggest = min(ranked[max(0, math.ceil(SUGGEST_QUANTILE * len(ranked)) - 1)], answer)
    return answer, suggest


# The modules whose code decides scores (and what a cached snapshot contains).
CODE_FILES = (
    "korean.py",
    "knowledge.py",
    "knowledge_schema.py",
    "matcher.py",
    "thresholds.py",
    "live_knowledge.py",
)


def code_hash() -> str:
    """A hash of the matching code, so caches made by other code are never reused."""
    digest = hashlib.sha256()
    here = Path(__file__).resolve().parent
    for name in CODE_FILES:
        try:
            digest.update((here / name).read_bytes())
        except OSError:
            digest.update(name.encode())
    return digest.hexdigest()[:16]


def content_key(matcher: Matcher) -> str:
    kb = matcher.kb
    digest = hashlib.sha256((SCORING_VERSION + code_hash()).encode())
    for entry in kb.entries:
        digest.update(repr((entry.id, entry.title, entry.keywords, entry.questions)).encode())
    digest.update(repr(sorted((k, v) for k, v in kb.synonyms.items())).encode())
    digest.update(repr(kb.off_topic).encode())
    from bot import matcher as matcher_module

    digest.update(repr((matcher_module.WEIGHTS, matcher_module.W_UNSEEN, matcher_module.W_GENERIC)).encode())
    return digest.hexdigest()[:32]


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME", "").strip()
    return (Path(base) if base else Path.home() / ".cache") / "dockbot"


def cached_thresholds(matcher: Matcher, quick: bool = False) -> Thresholds:
    """The fitted thresholds of this knowledge content: from the cache, else fitted (and cached).

    quick=True (a one-shot `dockbot ask` on an empty cache) fits on a stratified sample (about
    QUICK_QUESTIONS example questions, the same share of every entry, and all off-topic questions) and
    caches nothing: the result is marked provisional and the caller arranges the full fit
    (bot/snapshot_cache.py warms it in the background). Measured on our KB: the sample's answer threshold
    is within 0.011 of the full fit's, the suggest threshold within 0.001 (off-topic scores only).
    """
    from bot.matcher import Thresholds

    path = cache_dir() / f"thresholds-{content_key(matcher)}.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Thresholds(answer=float(data["answer"]), suggest=float(data["suggest"]))
    except (OSError, ValueError, KeyError, TypeError):
        pass
    if quick:
        n_questions = sum(len(e.questions) for e in matcher.kb.entries)
        every = max(1, round(n_questions / QUICK_QUESTIONS))
        answer, suggest = fit(collect_evidence(matcher, every=every, limit=QUICK_CANDIDATES))
        return Thresholds(answer=answer, suggest=suggest, provisional=True)
    answer, suggest = fit(collect_evidence(matcher))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"answer": answer, "suggest": suggest}), encoding="utf-8")
        os.replace(tmp, path)
        # One file per knowledge version: keep the newest few, so years of edits don't pile up.
        fitted = sorted(path.parent.glob("thresholds-*.json"), key=lambda p: p.stat().st_mtime, reverse=True)
        for stale in fitted[KEEP_FILES:]:
            stale.unlink(missing_ok=True)
    except OSError as exc:  # a read-only home only costs the next start a refit
        log.warning("cannot cache matcher thresholds in %s: %s", path.parent, exc)
    return Thresholds(answer=answer, suggest=suggest)
