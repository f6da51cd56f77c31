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
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from bot.config import cache_dir

if TYPE_CHECKING:
    from bot.heldout import Labelled
    from bot.jamo_model import JamoModel
    from bot.knowledge import KnowledgeBase
    from bot.matcher import Matcher, Scored, Thresholds

log = logging.getLogger(__name__)

# Bump when the scoring changes: old cache files then simply stop matching.
SCORING_VERSION = "e1-knn-7"
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
    off_topic: list[float]  # every negative question: off-topic and uncovered
    confusions: list[tuple[str, int, str, str]]  # (entry id, question number, question, answered id)
    # Top scores of the off-topic questions alone (the suggest threshold); None: all of off_topic.
    unrelated: list[float] | None = None


def collect_evidence(matcher: Matcher, every: int = 1, limit: int | None = None) -> Evidence:
    """Score the example questions leave-one-out (every `every`-th of each entry) and the off-topic file.

    `limit`: candidates re-scored per question (default: the matcher's); fewer is faster, and the top
    score only differs when the best entry is not among BM25's first `limit`."""
    kwargs: dict[str, Any] = {} if limit is None else {"limit": limit}
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
    cuts = np.unique(np.concatenate([[s for s, _ in ins], off, [1.01]]))
    right = np.sort(np.asarray([s for s, ok in ins if ok], dtype=np.float64))
    off_sorted = np.sort(np.asarray(off, dtype=np.float64))
    # For every cut at once: in-scope questions not answered right + off-topic questions answered.
    right_kept = len(right) - np.searchsorted(right, cuts, side="left")
    passed = len(off_sorted) - np.searchsorted(off_sorted, cuts, side="left")
    unrelated = evidence.unrelated
    if unrelated and len(unrelated) < len(off):
        # Off-topic and uncovered questions are judged apart (docs/matching.md §8): each kind's share
        # answered is its own error term, so the larger kind cannot hide the other's.
        unrelated_sorted = np.sort(np.asarray(unrelated, dtype=np.float64))
        passed_unrelated = len(unrelated_sorted) - np.searchsorted(unrelated_sorted, cuts, side="left")
        negative_err = passed_unrelated / len(unrelated) + (passed - passed_unrelated) / (
            len(off) - len(unrelated)
        )
    else:
        negative_err = passed / len(off)
    err = (len(ins) - right_kept) / len(ins) + negative_err
    best_cut = float(cuts[int(np.argmin(err))])
    below = float(cuts[cuts < best_cut].max()) if (cuts < best_cut).any() else best_cut
    answer = (best_cut + below) / 2
    # An uncovered Docker question may get suggestions (related entries help); lunch questions should not.
    ranked = sorted(evidence.unrelated if evidence.unrelated else off)
    suggest = min(ranked[max(0, math.ceil(SUGGEST_QUANTILE * len(ranked)) - 1)], answer)
    return answer, suggest


# The modules whose code decides scores (and what a cached snapshot contains).
CODE_FILES = (
    "korean.py",
    "korean_words.py",
    "data/korean_words.yaml",  # the tokenizer's word lists: an edit changes every token
    "knowledge.py",
    "knowledge_schema.py",
    "matcher.py",
    "thresholds.py",
    "live_knowledge.py",
    "data/combination.json",  # the shipped stacker (fit_learned)
    "data/outside_questions.json",  # the jamo model's outside training questions
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

    m = matcher_module
    digest.update(repr((m.WEIGHTS, m.W_UNSEEN, m.W_GENERIC, m.W_WORLD)).encode())
    return digest.hexdigest()[:32]


def lexical_matcher(kb: KnowledgeBase, *, quick: bool = False) -> Matcher:
    """A Matcher of the lexical scorer alone, with its thresholds fitted on the example questions or read
    from the cache; quick=True fits provisional ones on a sample (see cached_thresholds)."""
    from bot.matcher import Matcher, Thresholds

    matcher = Matcher(kb, Thresholds(answer=1.01, suggest=1.01))  # scores every candidate while fitting
    matcher.thresholds = cached_thresholds(matcher, quick=quick)  # set before anyone else holds it
    return matcher


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


# ---- the combined scorer (lexical + jamo model), fitted on grouped folds ------------------------------

FOLDS = 5
# Example questions of one entry at least this similar (cosine of their jamo TF-IDF vectors) are
# near-paraphrases: they stay in one fold, or the fold would test on questions it nearly trained on.
PARAPHRASE_COSINE = 0.5
FOLD_SEED = 7
# The grid the combination weights are chosen from (w_jamo = 1 - w_lex).
GRID_W_LEX = tuple(round(0.1 * i, 1) for i in range(11))
GRID_W_NEG = (0.0, 0.1, 0.2, 0.3, 0.4, 0.6, 0.8, 1.0)
GRID_W_UNSEEN = (0.0, 0.1, 0.25)
# At most this many held-out questions are scored (an even sample of each fold): enough for the fit, and
# the fitting cost stays flat as the knowledge base grows.
MAX_EVIDENCE = 6000
# Above this many entries the folds hold out (and refit) a seeded sample of this many entries only.
FOLD_ENTRIES = 150


@dataclass(frozen=True)
class FoldEvidence:
    """Each held-out question of the grouped folds with the scores its candidates got from the fold's model.

    expect[i] is the entry index (-1: off-topic/uncovered); candidates of question i are
    cand_entry/cand_lex/cand_learned[ptr[i]:ptr[i+1]]."""

    expect: np.ndarray
    negative: np.ndarray  # p(NEGATIVE) of the jamo model
    unseen: np.ndarray  # the lexical unseen share
    ptr: np.ndarray
    cand_entry: np.ndarray
    cand_lex: np.ndarray
    cand_learned: np.ndarray
    cand_exact: np.ndarray
    # Question number within its entry of each held-out question (-1: a negative question).
    question: np.ndarray | None = None

    @cached_property
    def owner(self) -> np.ndarray:
        """The question each candidate belongs to (candidate i is of question owner[i])."""
        return np.repeat(np.arange(len(self.expect)), np.diff(self.ptr))


# (question, entry id or None for off-topic/uncovered): labelled questions of outside writers.
Outside = list[tuple[str, str | None]]


def training_set(kb: KnowledgeBase, outside: Outside | None = None) -> tuple[list[str], list[str]]:
    """(texts, labels) the jamo model learns from: titles and example questions, the negative files, and the
    outside writers' labelled questions (`outside`; default: bot/data/outside_questions.json when it was
    written for this knowledge, see outside_examples)."""
    from bot.jamo_model import NEGATIVE

    texts, labels = [], []
    for entry in kb.entries:
        for text in (entry.title, *entry.questions):
            texts.append(text)
            labels.append(entry.id)
    for text in negative_questions(kb):
        texts.append(text)
        labels.append(NEGATIVE)
    ids = {e.id for e in kb.entries}
    for text, expect in outside_examples(kb) if outside is None else outside:
        if expect is None or expect in ids:
            texts.append(text)
            labels.append(expect or NEGATIVE)
    return texts, labels


OUTSIDE_FILE = Path(__file__).resolve().parent / "data" / "outside_questions.json"


def outside_examples(kb: KnowledgeBase, path: Path = OUTSIDE_FILE) -> Outside:
    """The outside writers' development questions (bench/fit_combination.py copies them from tests/data,
    which the image does not carry) when at least COMBINATION_MIN_OVERLAP of the entries they are about
    are in this knowledge (the shipped knowledge as it is edited and grows), else none: a knowledge base
    on other topics learns from its own examples only. Round 8: leave-one-writer-out top-1 96.7 -> 97.6%,
    answered right 89.9 -> 92.6% (docs/matching.md "Round 8")."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        questions = [(str(q), None if e is None else str(e)) for q, e in data["questions"]]
    except FileNotFoundError:
        return []
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("ignoring %s: %s", path, exc)
        return []
    about = {e for _, e in questions if e is not None}
    ids = {e.id for e in kb.entries}
    if not about or len(ids & about) < COMBINATION_MIN_OVERLAP * len(about):
        return []
    return questions


def write_outside_examples(writers: dict[str, list[Labelled]], path: Path = OUTSIDE_FILE) -> None:
    """Save the outside writers' labelled questions as JSON (read by outside_examples): data, never code."""
    head = {
        "why": "bench/fit_combination.py: outside writers' questions, the jamo model's training data",
        "writers": {name: len(items) for name, items in writers.items()},
    }
    # One question a line, so a refit's diff shows what changed.
    rows = ",\n".join(
        json.dumps([x.question, x.expect], ensure_ascii=False) for items in writers.values() for x in items
    )
    text = json.dumps(head, ensure_ascii=False)[:-1] + ', "questions": [\n' + rows + "\n]}\n"
    path.write_text(text, encoding="utf-8")


def labelled_outside(labelled: list[Labelled]) -> Outside:
    """Labelled questions as training examples (their entry, or None for a negative question)."""
    return [(x.question, x.expect) for x in labelled]


def negative_questions(kb: KnowledgeBase) -> tuple[str, ...]:
    """Off-topic questions and in-domain questions no entry covers (knowledge/uncovered.yaml, when loaded)."""
    return (*kb.off_topic, *kb.uncovered_questions)


def train_model(kb: KnowledgeBase, outside: Outside | None = None) -> JamoModel:
    from bot.jamo_model import NEGATIVE, train

    texts, labels = training_set(kb, outside)
    return train(texts, labels, [*(e.id for e in kb.entries), NEGATIVE])


# An edit that changes more than this share of the classes is retrained in full at once.
REFIT_MAX_SHARE = 0.2


def refit_model(kb: KnowledgeBase, before: KnowledgeBase, model: JamoModel) -> JamoModel | None:
    """After an edit: `model` (trained on `before`) with only the classes of changed or new entries (and the
    negative class, when the off-topic/uncovered questions changed) refitted, over its vocabulary. Seconds
    at 1,000 entries where a full training takes a minute; the full training follows in the background.
    None when too much changed for that to be a fair stand-in."""
    from bot.jamo_model import NEGATIVE, train

    old = {e.id: (e.title, e.questions) for e in before.entries}
    changed = {e.id for e in kb.entries if old.get(e.id) != (e.title, e.questions)}
    if negative_questions(kb) != negative_questions(before):
        changed.add(NEGATIVE)
    if len(changed) > REFIT_MAX_SHARE * (len(kb.entries) + 1):
        return None
    texts, labels = training_set(kb)
    return train(texts, labels, [*(e.id for e in kb.entries), NEGATIVE], base=model, only=frozenset(changed))


def _root(parent: list[int], i: int) -> int:
    """Union-find root of i (with path halving)."""
    while parent[i] != i:
        parent[i] = parent[parent[i]]
        i = parent[i]
    return i


def grouped_folds(kb: KnowledgeBase, model: JamoModel) -> tuple[list[list[int]], list[int]]:
    """Fold number of every example question (per entry, in order) and of every negative question.

    Within an entry, questions linked by cosine >= PARAPHRASE_COSINE form one group (connected components);
    groups go to the fold holding the fewest of that entry's questions so far, in a seeded random order."""
    rng = np.random.default_rng(FOLD_SEED)
    folds: list[list[int]] = []
    for entry in kb.entries:
        n = len(entry.questions)
        vectors = [model.vector(q) for q in entry.questions]
        parent = list(range(n))

        if n:
            dense = np.zeros((n, len(model.idf)), dtype=np.float32)
            for i, (fid, w) in enumerate(vectors):
                dense[i, fid] = w
            sims = dense @ dense.T
            for i, j in zip(*np.nonzero(np.triu(sims, 1) >= PARAPHRASE_COSINE), strict=True):
                parent[_root(parent, int(i))] = _root(parent, int(j))
        groups: dict[int, list[int]] = {}
        for i in range(n):
            groups.setdefault(_root(parent, i), []).append(i)
        fold_of = [0] * n
        size = [0] * FOLDS
        for g in rng.permutation(len(groups)):
            members = list(groups.values())[int(g)]
            k = min(range(FOLDS), key=lambda f: (size[f], rng.random()))
            for i in members:
                fold_of[i] = k
            size[k] += len(members)
        folds.append(fold_of)
    negatives = [i % FOLDS for i in rng.permutation(len(negative_questions(kb)))]
    return folds, negatives


class _EvidenceBuilder:
    """Collects questions' candidates (lexical scores and model probabilities) into FoldEvidence arrays."""

    def __init__(self) -> None:
        self.expect: list[int] = []
        self.number: list[int] = []
        self.negative: list[float] = []
        self.unseen: list[float] = []
        self.ptr = [0]
        self.entry: list[int] = []
        self.lex: list[float] = []
        self.learned: list[float] = []
        self.exact: list[bool] = []

    def add(self, lexical: Matcher, model: JamoModel, question: str, expect: int, number: int = -1) -> None:
        """One question: the lexical index's candidates plus the model's LEARNED_CANDIDATES best entries."""
        from bot.matcher import LEARNED_CANDIDATES

        n = lexical.index.n
        scored, share = lexical.lexical(lexical.analyse(question))
        probs = model.probabilities(question)
        cands: dict[int, Scored | None] = {s.index: s for s in scored}
        for extra in np.argsort(-probs[:n])[:LEARNED_CANDIDATES]:
            cands.setdefault(int(extra), None)
        for idx, s in cands.items():
            self.entry.append(idx)
            self.lex.append(s.lexical if s is not None else 0.0)
            self.learned.append(float(probs[idx]))
            self.exact.append(bool(s is not None and s.exact))
        self.expect.append(expect)
        self.number.append(number)
        self.negative.append(float(probs[n]))
        self.unseen.append(share)
        self.ptr.append(len(self.entry))

    def build(self) -> FoldEvidence:
        return FoldEvidence(
            expect=np.asarray(self.expect, np.int64),
            negative=np.asarray(self.negative),
            unseen=np.asarray(self.unseen),
            ptr=np.asarray(self.ptr, np.int64),
            cand_entry=np.asarray(self.entry, np.int64),
            cand_lex=np.asarray(self.lex),
            cand_learned=np.asarray(self.learned),
            cand_exact=np.asarray(self.exact, bool),
            question=np.asarray(self.number, np.int64),
        )


def fold_evidence(kb: KnowledgeBase, final: JamoModel, *, every: bool = False) -> FoldEvidence:
    """Train on FOLDS - 1 folds, score the held-out fold with both scorers; all folds in turn.

    every=True (the misfiled-example check): every entry is held out and every question scored, however
    large the knowledge base (the fit samples entries and questions to keep its cost flat)."""
    from dataclasses import replace

    from bot.jamo_model import NEGATIVE, train
    from bot.matcher import Matcher, Thresholds

    folds, negative_folds = grouped_folds(kb, final)
    n = len(kb.entries)
    # A large knowledge base is judged on a seeded sample of its entries: only those are held out and
    # refitted per fold; the other classes keep the full model's coefficients (they saw the held-out
    # questions as negatives, which if anything makes the fold figures slightly pessimistic for them).
    judged = set(range(n))
    if n > FOLD_ENTRIES and not every:
        judged = set(np.random.default_rng(FOLD_SEED).choice(n, FOLD_ENTRIES, replace=False).tolist())
        folds = [fold if e in judged else [-1] * len(fold) for e, fold in enumerate(folds)]
    refit = None if len(judged) == n else frozenset([*(kb.entries[e].id for e in judged), NEGATIVE])
    negatives = negative_questions(kb)
    n_off = len(kb.off_topic)
    classes = [*(e.id for e in kb.entries), NEGATIVE]
    outside = outside_examples(kb)
    known_ids = {e.id for e in kb.entries}
    evidence = _EvidenceBuilder()
    for k in range(FOLDS):
        entries = tuple(
            replace(e, questions=tuple(q for q, f in zip(e.questions, fold, strict=True) if f != k))
            for e, fold in zip(kb.entries, folds, strict=True)
        )
        kept = [q for q, f in zip(negatives, negative_folds, strict=True) if f != k]
        kept_off = tuple(
            q for i, (q, f) in enumerate(zip(negatives, negative_folds, strict=True)) if f != k and i < n_off
        )
        fold_kb = replace(kb, entries=entries, off_topic=kept_off)
        lexical = Matcher(fold_kb, Thresholds(answer=1.01, suggest=1.01))
        texts, labels = [], []
        for entry in entries:
            for text in (entry.title, *entry.questions):
                texts.append(text)
                labels.append(entry.id)
        texts += kept
        labels += [NEGATIVE] * len(kept)
        # The outside writers' questions are never held out: they train every fold, as the final model.
        for text, expect in outside:
            if expect is None or expect in known_ids:
                texts.append(text)
                labels.append(expect or NEGATIVE)
        model = (
            train(texts, labels, classes)
            if refit is None
            else train(texts, labels, classes, base=final, only=refit)
        )
        held = [
            (q, e, j)
            for e, (entry, fold) in enumerate(zip(kb.entries, folds, strict=True))
            for j, (q, f) in enumerate(zip(entry.questions, fold, strict=True))
            if f == k
        ]
        # -1: off-topic, -2: uncovered (both negatives; only off-topic sets the suggest threshold).
        held += [
            (q, -1 if i < n_off else -2, -1)
            for i, (q, f) in enumerate(zip(negatives, negative_folds, strict=True))
            if f == k
        ]
        total = len(negatives) + sum(len(e.questions) for e in kb.entries)
        step = 1 if every else max(1, -(-total // MAX_EVIDENCE))  # ceil
        for question, e, j in held[::step]:
            evidence.add(lexical, model, question, e, j)
    return evidence.build()


def candidate_scores(ev: FoldEvidence, t: Thresholds) -> np.ndarray:
    """The final score of every candidate of the evidence, as Matcher.combine makes it with `t`."""
    from bot.matcher import stack_features, stacked_score

    owner = ev.owner
    if t.stack:
        score = stacked_score(
            stack_features(ev.cand_lex, ev.cand_learned, owner, ev.negative, ev.unseen), t.stack
        )
    else:
        penalty = (t.w_neg * ev.negative + t.w_unseen * ev.unseen)[owner]
        score = t.w_lex * ev.cand_lex + t.w_jamo * ev.cand_learned - penalty
    return np.clip(np.where(ev.cand_exact, 1.0, score), 0.0, 1.0)


def combined_evidence(ev: FoldEvidence, w_lex: float, w_neg: float, w_unseen: float) -> Evidence:
    """The fold evidence as (top score, right?) pairs for one choice of weights."""
    from bot.matcher import Thresholds

    weights = Thresholds(
        answer=1.01, suggest=1.01, w_lex=w_lex, w_jamo=1.0 - w_lex, w_neg=w_neg, w_unseen=w_unseen
    )
    return scored_evidence(ev, candidate_scores(ev, weights))


def scored_evidence(ev: FoldEvidence, score: np.ndarray) -> Evidence:
    """(top score, right?) per in-scope question and the top scores of the negatives, for candidate scores."""
    owner = ev.owner
    n = len(ev.expect)
    top = np.zeros(n)
    right = np.zeros(n, dtype=bool)
    if len(score):
        order = np.lexsort((-score, owner))  # per question, best candidate first
        first = np.searchsorted(owner[order], np.arange(n))
        has = np.diff(ev.ptr) > 0
        best = order[np.minimum(first, len(order) - 1)]
        top = np.where(has, score[best], 0.0)
        right = has & (ev.cand_entry[best] == ev.expect)
    is_off = ev.expect < 0
    in_scope = list(zip(top[~is_off].tolist(), right[~is_off].tolist(), strict=True))
    return Evidence(in_scope, top[is_off].tolist(), [], top[ev.expect == -1].tolist())


def balanced_error(evidence: Evidence, answer: float) -> float:
    """The error `fit` minimises: in-scope questions not answered right + each negative kind answered."""
    missed = sum(1 for s, ok in evidence.in_scope if not (ok and s >= answer))
    passed = sum(1 for s in evidence.off_topic if s >= answer)
    err = missed / max(1, len(evidence.in_scope))
    unrelated = evidence.unrelated
    if unrelated and len(unrelated) < len(evidence.off_topic):
        passed_unrelated = sum(1 for s in unrelated if s >= answer)
        return (
            err
            + passed_unrelated / len(unrelated)
            + (passed - passed_unrelated) / (len(evidence.off_topic) - len(unrelated))
        )
    return err + passed / max(1, len(evidence.off_topic))


def fit_combined(ev: FoldEvidence) -> Thresholds:
    """Weights and thresholds with the lowest balanced error on the grouped-fold evidence (ties: top-1)."""
    from bot.matcher import Thresholds

    best: tuple[float, float] | None = None
    chosen: tuple[float, float, float, float, float] | None = None
    for w_lex in GRID_W_LEX:
        for w_neg in GRID_W_NEG:
            for w_unseen in GRID_W_UNSEEN:
                evidence = combined_evidence(ev, w_lex, w_neg, w_unseen)
                answer, suggest = fit(evidence)
                top1 = sum(ok for _, ok in evidence.in_scope) / max(1, len(evidence.in_scope))
                key = (round(balanced_error(evidence, answer), 6), -top1)
                if best is None or key < best:
                    best, chosen = key, (w_lex, w_neg, w_unseen, answer, suggest)
    assert chosen is not None, "the weight grids are not empty"
    w_lex, w_neg, w_unseen, answer, suggest = chosen
    return Thresholds(
        answer=answer,
        suggest=suggest,
        w_lex=w_lex,
        w_jamo=round(1.0 - w_lex, 1),
        w_neg=w_neg,
        w_unseen=w_unseen,
    )


def fit_learned(kb: KnowledgeBase) -> tuple[JamoModel, Thresholds]:
    """Train the jamo model on everything; the combination is the stacker fitted on outside-written
    questions (bot/data/combination.json) when it was fitted on this knowledge's topics, else fitted on
    grouped folds (tens of seconds). Off the request path either way."""
    final = train_model(kb)
    stacked = load_combination(kb)
    return final, stacked if stacked is not None else fit_combined(fold_evidence(kb, final))


# ---- the stacker, fitted on questions written by people who never read the entries ---------------------

COMBINATION_FILE = Path(__file__).resolve().parent / "data" / "combination.json"
# The stacker is used for a knowledge base that still has most of the entries its questions were about
# (the shipped knowledge as it grows and is edited); a knowledge base of other topics (a fixture, another
# team's) is fitted on its own grouped folds.
COMBINATION_MIN_OVERLAP = 0.8
# Candidates of negative questions weigh this much in the stacker's fit (of 1 / 2 / 3 / 5, leave-one-writer-
# out: answered right 88.4 / 89.0 / 89.5 / 89.2%, negatives rejected within 0.6 points).
STACK_NEGATIVE_WEIGHT = 3.0


def outside_evidence(matcher: Matcher, labelled: list[Labelled]) -> FoldEvidence:
    """Candidates of labelled outside questions as the matcher's lexical index and model score them (the
    same arrays as fold_evidence, so one fit and one scoring serve both)."""
    model = matcher.model
    if model is None:
        raise ValueError("outside evidence needs the jamo model")
    ids = {e.id: i for i, e in enumerate(matcher.kb.entries)}
    evidence = _EvidenceBuilder()
    for item in labelled:
        if item.expect is not None and item.expect not in ids:
            continue  # an entry this knowledge no longer has
        expect = ids[item.expect] if item.expect else (-2 if item.kind == "uncovered" else -1)
        evidence.add(matcher, model, item.question, expect)
    return evidence.build()


def writer_questions(data: Path) -> dict[str, list[Labelled]]:
    """The labelled questions of each outside writer of the development data in `data` (the current
    round's sealed sets are never read)."""
    from bot.heldout import evaluation_files, load_labelled, outside_writers

    dev_files, _sealed = evaluation_files(data)
    return {name: load_labelled(paths) for name, paths in outside_writers(dev_files).items()}


def writer_evidence(kb: KnowledgeBase, writers: dict[str, list[Labelled]]) -> dict[str, FoldEvidence]:
    """Per outside writer, the candidates of their questions as the knowledge's lexical index and a jamo
    model trained on the knowledge plus every *other* writer's questions score them: each writer is scored
    as a new writer would be (the stacker's fitting evidence and the leave-one-writer-out figure). One
    model training per writer (a few seconds each at 72 entries)."""
    from bot.matcher import Matcher, Thresholds

    out = {}
    for name, labelled in writers.items():
        others = [q for other, items in writers.items() if other != name for q in labelled_outside(items)]
        model = train_model(kb, outside=others)
        matcher = Matcher(kb, Thresholds(answer=1.01, suggest=1.01), model=model)
        out[name] = outside_evidence(matcher, labelled)
    return out


def join_evidence(parts: list[FoldEvidence]) -> FoldEvidence:
    """Several evidence sets as one (their questions one after the other)."""
    offsets = np.cumsum([0, *(len(p.cand_entry) for p in parts)])
    return FoldEvidence(
        expect=np.concatenate([p.expect for p in parts]),
        negative=np.concatenate([p.negative for p in parts]),
        unseen=np.concatenate([p.unseen for p in parts]),
        ptr=np.concatenate([[0], *(p.ptr[1:] + off for p, off in zip(parts, offsets, strict=False))]).astype(
            np.int64
        ),
        cand_entry=np.concatenate([p.cand_entry for p in parts]),
        cand_lex=np.concatenate([p.cand_lex for p in parts]),
        cand_learned=np.concatenate([p.cand_learned for p in parts]),
        cand_exact=np.concatenate([p.cand_exact for p in parts]),
        question=np.concatenate(
            [p.question if p.question is not None else np.full(len(p.expect), -1) for p in parts]
        ),
    )


def fit_stacker(ev: FoldEvidence, negative_weight: float = STACK_NEGATIVE_WEIGHT) -> Thresholds:
    """A logistic regression over the candidates' STACK_FEATURES (is this candidate the right entry?), then
    the answer and suggest thresholds on its probability, as `fit` places them. Imports scikit-learn."""
    from sklearn.linear_model import LogisticRegression

    from bot.matcher import Thresholds, stack_features

    owner = ev.owner
    x = stack_features(ev.cand_lex, ev.cand_learned, owner, ev.negative, ev.unseen)
    y = (ev.cand_entry == ev.expect[owner]).astype(np.int64)
    weight = np.where(ev.expect[owner] < 0, negative_weight, 1.0)
    lr = LogisticRegression(C=1.0, max_iter=2000).fit(x, y, sample_weight=weight)
    stack = (float(lr.intercept_[0]), *(float(c) for c in lr.coef_[0]))
    probe = Thresholds(answer=1.01, suggest=1.01, stack=stack)
    answer, suggest = fit(scored_evidence(ev, candidate_scores(ev, probe)))
    return Thresholds(answer=answer, suggest=suggest, stack=stack)


def load_combination(kb: KnowledgeBase, path: Path = COMBINATION_FILE) -> Thresholds | None:
    """The shipped stacker when it fits this knowledge (its features are this code's, at least
    COMBINATION_MIN_OVERLAP of the entries its questions were about are here), else None."""
    from bot.matcher import STACK_FEATURES, Thresholds

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data["features"] != list(STACK_FEATURES):
            raise ValueError("fitted on other features")
        stack = tuple(float(v) for v in data["stack"])
        answer, suggest = float(data["answer"]), float(data["suggest"])
        if len(stack) != len(STACK_FEATURES) + 1 or not all(map(math.isfinite, (*stack, answer, suggest))):
            raise ValueError("malformed coefficients")
        about = set(data["entries"])
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("ignoring %s: %s", path, exc)
        return None
    ids = {e.id for e in kb.entries}
    if len(ids & about) < COMBINATION_MIN_OVERLAP * len(about):
        return None
    return Thresholds(answer=answer, suggest=suggest, stack=stack)


def write_combination(
    t: Thresholds, kb: KnowledgeBase, fitted_on: dict[str, int], path: Path, knowledge_version: str
) -> None:
    """Save a fitted stacker as JSON (read by load_combination): data, never code. `knowledge_version`
    (live_knowledge.content_version) lets the bench say when the knowledge has changed since."""
    from bot.matcher import STACK_FEATURES

    doc = {
        "why": "bench/fit_combination.py: stacker fitted on outside-written development questions",
        "features": list(STACK_FEATURES),
        "stack": [round(v, 6) for v in t.stack],
        "answer": round(t.answer, 6),
        "suggest": round(t.suggest, 6),
        "fitted_on": fitted_on,
        "knowledge_version": knowledge_version,
        "entries": sorted(e.id for e in kb.entries),
    }
    path.write_text(json.dumps(doc, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


@dataclass(frozen=True)
class HeldOut:
    """How one example question fared when its fold's model (which never saw it) answered it."""

    entry: int  # the entry it is filed under
    question: int  # its number within that entry
    got: int  # the entry ranked first (-1: no candidate)
    score: float  # that entry's combined score
    exact: bool  # the question is, after normalisation, another string of that entry
    own: float  # the combined score of the entry it is filed under (0: not a candidate)


def held_out_answers(ev: FoldEvidence, t: Thresholds) -> list[HeldOut]:
    """Per example question of the fold evidence, the entry the combined score `t` ranks first."""
    if t.stack:
        # A stacker's probabilities saturate near 0 and 1, so a margin between them says little about how
        # far apart two entries are: the misfiled check judges on the weighted sum fitted on these folds.
        t = fit_combined(ev)
    score = candidate_scores(ev, t)
    numbers = ev.question if ev.question is not None else np.full(len(ev.expect), -1)
    out = []
    for i, (e, j) in enumerate(zip(ev.expect.tolist(), numbers.tolist(), strict=True)):
        if e < 0 or j < 0:
            continue
        a, b = int(ev.ptr[i]), int(ev.ptr[i + 1])
        if a == b:
            out.append(HeldOut(e, j, -1, 0.0, False, 0.0))
            continue
        best = a + int(np.argmax(score[a:b]))
        mine = np.flatnonzero(ev.cand_entry[a:b] == e)
        own = float(score[a + mine[0]]) if len(mine) else 0.0
        got = int(ev.cand_entry[best])
        out.append(HeldOut(e, j, got, float(score[best]), bool(ev.cand_exact[best]), own))
    return out
