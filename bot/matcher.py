"""Match a question to a knowledge entry: BM25 retrieval, then a kNN re-score over the example questions.

1. `Analyzer` (bot/korean.py) turns text into tokens; features are the tokens plus syllable 2/3-grams.
2. BM25 over one bag per entry (title + keywords + example questions) picks the candidate entries.
3. Each candidate is re-scored against each of its strings (kNN: a question usually has a close sibling among
   ~20 examples) and against its whole bag:
     knn = best idf-weighted Dice overlap with one string, cov = idf-weighted share of the question's features
     the entry knows, fz = best rapidfuzz ratio of sorted jamo token strings.
   score = W_KNN·knn + W_COV·cov + W_FUZZ·fz (a 0..1 confidence).
4. Outcome: answered when score >= the fitted answer threshold, suggestions above the suggest threshold,
   otherwise no answer. Thresholds are fitted on the knowledge base itself (leave-one-out over the example
   questions vs. the off-topic file, see bot/thresholds.py) and cached per knowledge content.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from dataclasses import dataclass
from typing import Literal

import numpy as np
from rapidfuzz import fuzz, process

from bot.knowledge import Entry, KnowledgeBase
from bot.korean import QUESTION_TOKEN, Analyzer, clean_text, jamo, syllable_ngrams

log = logging.getLogger(__name__)

Outcome = Literal["answered", "suggested", "no_answer", "invalid"]

# Re-score weights: design constants of the scoring function (documented in docs/matching.md); the decision
# thresholds on top of this score are fitted from the knowledge base, never set here.
W_KNN = 0.45
W_COV = 0.25
W_FUZZ = 0.30
NGRAM_WEIGHT = 0.5
CANDIDATES = 15
MAX_ALTERNATIVES = 3
BM25_K1 = 1.2
BM25_B = 0.75


@dataclass(frozen=True)
class Match:
    entry: Entry
    score: float


@dataclass(frozen=True)
class Answer:
    question: str
    outcome: Outcome
    match: Match | None
    alternatives: tuple[Match, ...]
    reason: str | None = None


@dataclass(frozen=True)
class Scored:
    """One candidate entry with the parts of its score (kept for fitting and the benchmark)."""

    index: int
    score: float
    knn: float
    cov: float
    fz: float


def features(tokens: list[str]) -> Counter[str]:
    feats: Counter[str] = Counter("w:" + t for t in tokens)
    feats.update("g:" + g for g in syllable_ngrams(tokens))
    return feats


def fuzzy_key(tokens: list[str]) -> str:
    """Sorted tokens as jamo: word order and spacing don't matter, one-letter typos cost little."""
    return jamo(" ".join(sorted(t for t in tokens if t != QUESTION_TOKEN)))


@dataclass
class _String:
    entry: int
    feats: frozenset[str]
    weight: float
    fuzzy: str


class Index:
    """Everything the matcher precomputes from a knowledge base. Read-only after construction."""

    def __init__(self, kb: KnowledgeBase):
        self.kb = kb
        self.entries = kb.entries
        texts = [t for e in kb.entries for t in (e.title, *e.keywords, *e.questions)]
        self.analyzer = Analyzer(kb.synonyms, texts)
        memo: dict[str, list[str]] = {}

        def tokens(text: str) -> list[str]:
            # Replicated or repeated strings (benchmarks, shared keywords) are analysed once.
            found = memo.get(text)
            if found is None:
                found = memo[text] = self.analyzer.tokens(text)
            return found

        n = len(kb.entries)
        bag_counts: list[Counter[str]] = []
        per_entry_strings: list[list[tuple[frozenset[str], str, Counter[str]]]] = []
        for entry in kb.entries:
            bag: Counter[str] = Counter()
            strings = []
            for text in (entry.title, *entry.keywords, *entry.questions):
                toks = tokens(text)
                feats = features(toks)
                bag.update(feats)
                strings.append((frozenset(feats), fuzzy_key(toks), feats))
            bag_counts.append(bag)
            per_entry_strings.append(strings)
        df: Counter[str] = Counter()
        for bag in bag_counts:
            df.update(bag.keys())
        self.n = n
        self.unseen_idf = self._idf(0)
        # Syllable n-grams are many per word; scaled down so whole-word evidence leads.
        self.idf = {f: self._idf(c) * (NGRAM_WEIGHT if f.startswith("g:") else 1.0) for f, c in df.items()}
        lengths = [sum(b.values()) for b in bag_counts]
        avg = (sum(lengths) / n) if n else 1.0
        postings: dict[str, tuple[list[int], list[float]]] = {}
        for i, bag in enumerate(bag_counts):
            norm = BM25_K1 * (1 - BM25_B + BM25_B * lengths[i] / avg)
            for f, tf in bag.items():
                ids, ws = postings.setdefault(f, ([], []))
                ids.append(i)
                ws.append(self.idf[f] * tf * (BM25_K1 + 1) / (tf + norm))
        self.postings = {
            f: (np.asarray(ids, dtype=np.int32), np.asarray(ws, dtype=np.float32))
            for f, (ids, ws) in postings.items()
        }
        self.bags = [frozenset(b) for b in bag_counts]
        self.bag_counts = bag_counts
        self.strings: list[list[_String]] = [
            [_String(i, fs, self.weight(fs), fk) for fs, fk, _ in strings]
            for i, strings in enumerate(per_entry_strings)
        ]
        # Which string of an entry is example question j (for leave-one-out): titles and keywords come first.
        self.question_offset = [1 + len(e.keywords) for e in kb.entries]
        self.string_counters = per_entry_strings

    def _idf(self, df: int) -> float:
        return math.log(1 + (self.n - df + 0.5) / (df + 0.5))

    def weight(self, feats: frozenset[str] | set[str]) -> float:
        idf = self.idf
        unseen = self.unseen_idf
        return sum(idf.get(f, unseen * (NGRAM_WEIGHT if f[0] == "g" else 1.0)) for f in feats)


class Matcher:
    """Answers questions from one knowledge base. Thread-safe for reading; build a new one to change it."""

    def __init__(self, kb: KnowledgeBase, thresholds: Thresholds | None = None):
        self.kb = kb
        self.index = Index(kb)
        if thresholds is None:
            from bot.thresholds import cached_thresholds

            thresholds = cached_thresholds(self)
        self.thresholds = thresholds

    # -- scoring ---------------------------------------------------------------------------------------
    def analyse(self, question: str) -> list[str]:
        return self.index.analyzer.tokens(question)

    def rank(
        self, question: str, exclude: tuple[int, int] | None = None, limit: int = CANDIDATES
    ) -> list[Scored]:
        """Candidates best first. `exclude=(entry, question number)` leaves one example question out."""
        return self.rank_tokens(self.analyse(question), exclude=exclude, limit=limit)

    def rank_tokens(
        self, tokens: list[str], exclude: tuple[int, int] | None = None, limit: int = CANDIDATES
    ) -> list[Scored]:
        index = self.index
        if not tokens or index.n == 0:
            return []
        qf = features(tokens)
        qset = frozenset(qf)
        idf = index.idf
        unseen = index.unseen_idf
        q_weight = index.weight(qset)
        if q_weight <= 0:
            return []
        found = [index.postings[f] for f in qf if f in index.postings]
        if not found:
            return []
        ids = np.concatenate([p[0] for p in found])
        ws = np.concatenate([p[1] for p in found])
        bm25 = np.bincount(ids, weights=ws, minlength=index.n)
        k = min(limit, index.n)
        top = np.argpartition(-bm25, k - 1)[:k] if k < index.n else np.arange(index.n)
        candidates = [int(i) for i in top if bm25[i] > 0]

        skip_entry, skip_string = -1, -1
        if exclude is not None:
            skip_entry = exclude[0]
            skip_string = index.question_offset[skip_entry] + exclude[1]
        q_fuzzy = fuzzy_key(tokens)
        choices: list[str] = []
        owners: list[int] = []
        scored_knn: dict[int, float] = {}
        for e in candidates:
            best = 0.0
            for j, s in enumerate(index.strings[e]):
                if e == skip_entry and j == skip_string:
                    continue
                common = qset & s.feats
                if common:
                    overlap = sum(idf[f] for f in common)
                    dice = 2 * overlap / (q_weight + s.weight)
                    if dice > best:
                        best = dice
                choices.append(s.fuzzy)
                owners.append(e)
            scored_knn[e] = best
        fz: dict[int, float] = dict.fromkeys(candidates, 0.0)
        for _, score, pos in process.extract(q_fuzzy, choices, scorer=fuzz.ratio, limit=None):
            owner = owners[pos]
            if score > fz[owner]:
                fz[owner] = score
        out = []
        for e in candidates:
            bag = index.bags[e]
            if e == skip_entry:
                left_out = index.string_counters[e][skip_string][2]
                counts = index.bag_counts[e]
                known = sum(idf.get(f, unseen) for f in qset if f in bag and counts[f] > left_out.get(f, 0))
            else:
                known = sum(idf.get(f, unseen) for f in qset if f in bag)
            cov = known / q_weight
            knn = scored_knn[e]
            fuzzy = fz[e] / 100.0
            score = W_KNN * knn + W_COV * cov + W_FUZZ * fuzzy
            out.append(Scored(e, score, knn, cov, fuzzy))
        out.sort(key=lambda s: -s.score)
        return out

    # -- answering -------------------------------------------------------------------------------------
    def match(self, question: str) -> Answer:
        """Answer one question. Never raises: unusable input is outcome 'invalid' with a Korean reason."""
        if not isinstance(question, str):
            question = "" if question is None else str(question)
        reason = invalid_reason(question)
        if reason is not None:
            return Answer(question, "invalid", None, (), reason)
        try:
            ranked = self.rank(question)
        except Exception:  # a matcher bug must cost one answer, not the bot
            log.exception("matcher failed on a question of %d chars", len(question))
            return Answer(question, "no_answer", None, (), None)
        return self.decide(question, ranked)

    def decide(self, question: str, ranked: list[Scored]) -> Answer:
        entries = self.index.entries
        t = self.thresholds
        if not ranked or ranked[0].score < t.suggest:
            return Answer(question, "no_answer", None, ())
        matches = [Match(entries[s.index], round(s.score, 4)) for s in ranked if s.score >= t.suggest]
        if ranked[0].score >= t.answer:
            return Answer(question, "answered", matches[0], tuple(matches[1:MAX_ALTERNATIVES]))
        return Answer(question, "suggested", None, tuple(matches[:MAX_ALTERNATIVES]))


@dataclass(frozen=True)
class Thresholds:
    """Decision thresholds on the 0..1 score, fitted by bot/thresholds.py."""

    answer: float
    suggest: float


def invalid_reason(question: str) -> str | None:
    """A Korean reason when the text cannot be a question at all, else None."""
    if not question or not question.strip():
        return "질문이 비어 있어요. 궁금한 내용을 글로 적어 주세요. (예: `명명된 볼륨이 뭐야?`)"
    cleaned = clean_text(question)
    if not any(ch.isalnum() for ch in cleaned):
        if cleaned.strip() or any(not ch.isprintable() for ch in question):
            return "글자 없이 기호·이모지·제어 문자만 있어서 질문을 읽을 수 없어요. 질문을 글로 적어 주세요."
        return "질문이 비어 있어요. 궁금한 내용을 글로 적어 주세요. (예: `명명된 볼륨이 뭐야?`)"
    return None
