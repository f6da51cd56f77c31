"""Match a question to a knowledge entry: BM25 retrieval, then a kNN re-score over the example questions.

1. `Analyzer` (bot/korean.py) turns text into tokens; features are the tokens plus syllable 2/3-grams.
2. BM25 over one bag per entry (title + keywords + example questions) picks the candidate entries.
3. Each candidate is re-scored against each of its strings (kNN: a question usually has a close sibling among
   ~40 examples): best word Dice, mean of the 3 best Dice overlaps, best jamo fuzzy ratio, relative BM25,
   minus the share of the question the KB has never seen and the share made of "generic" words (words
   the off-topic file uses about as often as the KB: 업데이트, 드라이버; docs/matching.md §2 has the
   formula). A long question's weight is capped in the Dice denominators (QUERY_CAP_QUANTILE).
4. Outcome: answered when score >= the fitted answer threshold, suggestions above the suggest threshold,
   otherwise no answer. Thresholds are fitted on the knowledge base itself (leave-one-out over the example
   questions vs. the off-topic file, see bot/thresholds.py) and cached per knowledge content.
"""

from __future__ import annotations

import logging
import math
import sys
from collections import Counter
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
from rapidfuzz import fuzz, process

from bot.jamo_model import NEGATIVE, JamoModel
from bot.knowledge import Entry, KnowledgeBase
from bot.korean import QUESTION_TOKEN, Analyzer, clean_text, jamo, small_talk, syllable_ngrams

log = logging.getLogger(__name__)

Outcome = Literal["answered", "suggested", "no_answer", "invalid", "smalltalk"]

# Re-score weights: design constants of the scoring function (documented in docs/matching.md); the decision
# thresholds on top of this score are fitted from the knowledge base, never set here.
WEIGHTS = {"words": 0.25, "top3": 0.25, "fuzzy": 0.375, "bm25": 0.125}
W_UNSEEN = 0.25
# Penalty for the share of a question made of words the off-topic file uses as often as the KB does
# (업데이트, 드라이버, 키, 동기화 ...): a question built only of such words is probably not about Docker.
# Measured on leave-one-out + fresh dev questions: 0.15-0.25 a plateau (off-topic rejected 88 -> 96% on the
# older dev sets, 82.5 -> 85% on fresh ones, in-scope answers +2), 0.5 loses right answers.
W_GENERIC = 0.25
# Pseudo-counts every word gets: one KB string and one off-topic question. The off-topic file is ~18x
# smaller than the examples, so without the second a word seen once off-topic (디스크, 날리) would count
# as generic as 업데이트 (measured: 1 gives +3 dev answers over 0, same rejection; 2 rejects fewer).
GENERIC_PRIOR_KB = 1.0
GENERIC_PRIOR_OFF = 1.0
NGRAM_WEIGHT = 0.5
# Docker-vs-Kubernetes twins (k8s-resources vs container-resource-limits, k8s-probes vs healthcheck): a
# question whose words lean to one world (kubectl, 파드, yaml ... vs docker run, -v, Dockerfile ...) loses
# W_WORLD on entries of the other. A word leans when at least WORLD_SHARE of its (size-normalised) use in
# the KB's strings is in one world's entries and it occurs at least WORLD_MIN_COUNT times; the words come
# from the data, the worlds from the entry ids. Measured on grouped folds (cue words learned from the
# training folds only): top-1 75.6 -> 76.1%, answered right 60.3 -> 64.9%, balanced error 0.465 -> 0.449
# (0.02 / 0.1 / 0.2 gave 0.453 / 0.451 / 0.464).
W_WORLD = 0.055
WORLD_SHARE = 0.8
WORLD_MIN_COUNT = 3
KUBERNETES_IDS = ("k8s-", "kubectl-")
CANDIDATES = 15
# Entries the jamo model ranks highest are candidates too, even when BM25 did not retrieve them.
LEARNED_CANDIDATES = 5
MAX_ALTERNATIVES = 3
# The stacker's inputs per candidate (Thresholds.stack, fitted by bot/thresholds.py fit_stacker): the two
# scores, each one's margin to the best other candidate, whether the candidate is first by both / either,
# and the question's p(negative) and unseen share. The margins and the agreement are what a fixed weighted
# sum could not use: a right entry scored low but far ahead of the runner-up (docs/matching.md "Round 7").
STACK_FEATURES = (
    "lexical",
    "learned",
    "lexical_margin",
    "learned_margin",
    "both_first",
    "lexical_first",
    "learned_first",
    "negative",
    "unseen",
)
BM25_K1 = 1.2
BM25_B = 0.75
# Dice overlaps treat a longer question as if it weighed this quantile of the example questions' weights:
# a long, chatty question is otherwise diluted below every short example (its right answer then scores
# under the threshold). Measured on leave-one-out + a fresh dev set: 0.75 of 0.5/0.75/0.9/0.97/none.
QUERY_CAP_QUANTILE: float | None = 0.75


# Tokens of the knowledge base's own texts: {"raw": text -> raw tokens, "tokens": text -> analysed tokens}.
TextTokens = dict[str, dict[str, list[str]]]


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
    words: float  # best idf-weighted Dice overlap of whole words with one string of the entry
    top3: float  # mean of the 3 best Dice overlaps (words and syllable grams)
    fuzzy: float  # best rapidfuzz ratio of sorted jamo tokens
    lexical: float = 0.0  # the lexical score alone, before the unseen-share penalty (0 when not retrieved)
    learned: float = 0.0  # the jamo model's probability for the entry (0 without a model)
    exact: bool = False  # an example question of the entry, asked word for word


def features(tokens: list[str]) -> Counter[str]:
    feats: Counter[str] = Counter("w:" + t for t in tokens)
    feats.update("g:" + g for g in syllable_ngrams(tokens))
    return feats


def _margin(x: np.ndarray, owner: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(x minus the best other candidate's x of the same question, floored at 0; 1.0 where x is its best)."""
    best = np.full(n, -np.inf)
    np.maximum.at(best, owner, x)
    first = x >= best[owner]
    ties = np.bincount(owner, weights=first.astype(np.float64), minlength=n)
    runner = np.full(n, -np.inf)
    np.maximum.at(runner, owner, np.where(first, -np.inf, x))
    runner = np.where(ties >= 2, best, runner)
    other = np.maximum(np.where(first, runner[owner], best[owner]), 0.0)
    return x - other, first.astype(np.float64)


def stack_features(
    lexical: np.ndarray, learned: np.ndarray, owner: np.ndarray, negative: np.ndarray, unseen: np.ndarray
) -> np.ndarray:
    """STACK_FEATURES of every candidate (one row each); owner[i] is the question of candidate i, and
    negative/unseen are per question. Shared by the matcher and the fitting, so both see the same inputs."""
    n = len(negative)
    lex_margin, lex_first = _margin(lexical, owner, n)
    learned_margin, learned_first = _margin(learned, owner, n)
    return np.column_stack(
        [
            lexical,
            learned,
            lex_margin,
            learned_margin,
            lex_first * learned_first,
            lex_first,
            learned_first,
            negative[owner],
            unseen[owner],
        ]
    )


def stacked_score(features: np.ndarray, stack: tuple[float, ...]) -> np.ndarray:
    """The stacker's probability that a candidate is the right answer: sigmoid(bias + coefficients·x)."""
    coef = np.asarray(stack[1:], dtype=np.float64)
    return 1.0 / (1.0 + np.exp(-(stack[0] + features @ coef)))


def fuzzy_key(tokens: list[str]) -> str:
    """Sorted tokens as jamo: word order and spacing don't matter, one-letter typos cost little."""
    return jamo(" ".join(sorted(t for t in tokens if t != QUESTION_TOKEN)))


# Given to a string with no features at all (a keyword like "-"), so every string owns >= 1 feature slot.
_EMPTY = "\0empty"


class Index:
    """Everything the matcher precomputes from a knowledge base, as flat arrays. Read-only once built.

    Strings (each entry's title, keywords and example questions, in that order) are stored CSR-style:
    the feature ids of string s are string_feats[string_ptr[s]:string_ptr[s + 1]], and the strings of
    entry e are entry_start[e]..entry_start[e + 1]. Bags (the union of an entry's strings) likewise.
    """

    def __init__(self, kb: KnowledgeBase, text_tokens: TextTokens | None = None):
        """`text_tokens`: the tokens of the KB's texts as this code made them before (from the cache), so a
        warm start skips analysing ~3,700 texts; a text missing from it is analysed as usual."""
        self.kb = kb
        self.entries = kb.entries
        texts = list(dict.fromkeys(t for e in kb.entries for t in (e.title, *e.keywords, *e.questions)))
        known = text_tokens or {"raw": {}, "tokens": {}}
        self.analyzer = Analyzer(kb.synonyms, texts, known["raw"])
        known_tokens = known["tokens"]
        self.feature_ids: dict[str, int] = {_EMPTY: 0}
        memo: dict[str, tuple[np.ndarray, str]] = {}
        # Tokens of every KB text, kept only while thresholds are fitted (see Matcher.__init__).
        self.build_tokens: dict[str, list[str]] = {}

        def analysed(text: str) -> tuple[np.ndarray, str]:
            # Repeated strings (shared keywords, replicated benchmark entries) are analysed once.
            found = memo.get(text)
            if found is None:
                cached = known_tokens.get(text)
                toks = self.build_tokens[text] = cached if cached is not None else self.analyzer.tokens(text)
                ids = sorted({self.feature_ids.setdefault(f, len(self.feature_ids)) for f in features(toks)})
                found = memo[text] = (np.asarray(ids or [0], dtype=np.int32), sys.intern(fuzzy_key(toks)))
            return found

        n = len(kb.entries)
        string_arrays: list[np.ndarray] = []
        self.string_fuzzy: list[str] = []
        entry_start = [0]
        for entry in kb.entries:
            for text in (entry.title, *entry.keywords, *entry.questions):
                ids, fuzzy = analysed(text)
                string_arrays.append(ids)
                self.string_fuzzy.append(fuzzy)
            entry_start.append(len(string_arrays))
        self.string_fuzzy_array = np.asarray(self.string_fuzzy, dtype=object)
        self.n = n
        self.entry_start = np.asarray(entry_start, dtype=np.int64)
        lengths = np.fromiter((len(a) for a in string_arrays), dtype=np.int64, count=len(string_arrays))
        self.string_ptr = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        self.string_feats = np.concatenate(string_arrays) if string_arrays else np.zeros(0, np.int32)
        # Which string of an entry is example question j (for leave-one-out): titles and keywords come first.
        self.question_offset = [1 + len(e.keywords) for e in kb.entries]

        # Bags: per entry, each feature once with the number of its strings that have it.
        bag_feats, bag_counts, bag_ptr = [], [], [0]
        for e in range(n):
            block = self.string_feats[self.string_ptr[entry_start[e]] : self.string_ptr[entry_start[e + 1]]]
            feats, counts = np.unique(block, return_counts=True)
            bag_feats.append(feats.astype(np.int32))
            bag_counts.append(counts.astype(np.int32))
            bag_ptr.append(bag_ptr[-1] + len(feats))
        self.bag_feats = np.concatenate(bag_feats) if bag_feats else np.zeros(0, np.int32)
        self.bag_counts = np.concatenate(bag_counts) if bag_counts else np.zeros(0, np.int32)
        self.bag_ptr = np.asarray(bag_ptr, dtype=np.int64)

        vocab = len(self.feature_ids)
        df = np.bincount(self.bag_feats, minlength=vocab).astype(np.float64)
        is_gram = np.zeros(vocab, dtype=bool)
        for feature, fid in self.feature_ids.items():
            is_gram[fid] = feature.startswith("g:")
        # Syllable n-grams are many per word; scaled down so whole-word evidence leads.
        scale = np.where(is_gram, NGRAM_WEIGHT, 1.0)
        self.idf = np.log(1 + (n - df + 0.5) / (df + 0.5)) * scale
        self.idf[0] = 0.0
        self.unseen_idf = math.log(1 + (n + 0.5) / 0.5) if n else 1.0
        self.is_word = np.zeros(vocab, dtype=np.float64)
        for feature, fid in self.feature_ids.items():
            self.is_word[fid] = feature.startswith("w:")
        self.string_weight_words = (
            np.add.reduceat((self.idf * self.is_word)[self.string_feats], self.string_ptr[:-1])
            if string_arrays
            else np.zeros(0)
        )
        self.string_weight = (
            np.add.reduceat(self.idf[self.string_feats], self.string_ptr[:-1])
            if len(string_arrays)
            else np.zeros(0)
        )

        # A long question is compared as if it were no longer than most example questions (see rank_tokens).
        is_question = np.ones(len(string_arrays), dtype=bool)
        for e, entry in enumerate(kb.entries):
            is_question[entry_start[e] : entry_start[e] + 1 + len(entry.keywords)] = False
        if QUERY_CAP_QUANTILE is not None and is_question.any():
            self.cap_all = float(np.quantile(self.string_weight[is_question], QUERY_CAP_QUANTILE))
            self.cap_words = float(np.quantile(self.string_weight_words[is_question], QUERY_CAP_QUANTILE))
        else:
            self.cap_all = self.cap_words = math.inf

        # BM25 over bags, stored as postings per feature: entries and term weights.
        bag_entry = np.repeat(np.arange(n, dtype=np.int32), np.diff(self.bag_ptr))
        bag_len = np.add.reduceat(self.bag_counts, self.bag_ptr[:-1]).astype(np.float64) if n else np.zeros(0)
        avg = float(bag_len.mean()) if n else 1.0
        tf = self.bag_counts.astype(np.float64)
        norm = BM25_K1 * (1 - BM25_B + BM25_B * bag_len[bag_entry] / avg) if n else tf
        weight = self.idf[self.bag_feats] * tf * (BM25_K1 + 1) / (tf + norm)
        order = np.argsort(self.bag_feats, kind="stable")
        self.post_entries = bag_entry[order]
        self.post_weights = weight[order].astype(np.float32)
        self.post_ptr = np.searchsorted(self.bag_feats[order], np.arange(vocab + 1)).astype(np.int64)
        self.bag_len = bag_len
        self.avg_bag_len = avg

        # How often each word occurs in the KB's strings and in the off-topic questions (question counts).
        self.kb_word_count = np.bincount(self.string_feats, minlength=vocab).astype(np.float64) * self.is_word
        self.off_word_count = np.zeros(vocab, dtype=np.float64)
        for question in kb.off_topic:
            cached = known_tokens.get(question)
            toks = self.build_tokens[question] = (
                cached if cached is not None else self.analyzer.tokens(question)
            )
            for feature in set(features(toks)):
                off_id = self.feature_ids.get(feature)
                if off_id is not None and feature[0] == "w":
                    self.off_word_count[off_id] += 1
        self.n_strings = max(1, len(string_arrays))
        self.n_off = max(1, len(kb.off_topic))
        self.world, self.world_cue = self._world_cues(np.diff(self.entry_start), vocab)

    def _world_cues(self, strings_per_entry: np.ndarray, vocab: int) -> tuple[np.ndarray, np.ndarray]:
        """(per entry 1 = Kubernetes / 0 = Docker, per feature +1 / -1 / 0: the world its use leans to)."""
        world = np.asarray([e.id.startswith(KUBERNETES_IDS) for e in self.entries], dtype=bool)
        cue = np.zeros(vocab, dtype=np.int8)
        if not world.any() or world.all():
            return world, cue
        string_world = np.repeat(world, strings_per_entry)
        feat_world = np.repeat(string_world, np.diff(self.string_ptr))
        k8s = np.bincount(self.string_feats[feat_world], minlength=vocab).astype(np.float64)
        docker = np.bincount(self.string_feats[~feat_world], minlength=vocab).astype(np.float64)
        rate_k8s, rate_docker = k8s / max(1, string_world.sum()), docker / max(1, (~string_world).sum())
        share = rate_k8s / np.maximum(rate_k8s + rate_docker, 1e-12)
        enough = (self.is_word > 0) & (k8s + docker >= WORLD_MIN_COUNT)
        cue[enough & (share >= WORLD_SHARE)] = 1
        cue[enough & (share <= 1 - WORLD_SHARE)] = -1
        return world, cue

    def generic(self, known: np.ndarray, kb_less: float = 0.0, off_less: float = 0.0) -> np.ndarray:
        """Per known feature: the share of its use that is off-topic (0 = only the KB, 1 = only off-topic).

        `kb_less`/`off_less` take the question itself out of the counts (leave-one-out evidence)."""
        off = np.maximum(self.off_word_count[known] - off_less, 0.0) / self.n_off
        kb = np.maximum(self.kb_word_count[known] - kb_less, 0.0) / self.n_strings
        prior = GENERIC_PRIOR_KB / self.n_strings + GENERIC_PRIOR_OFF / self.n_off
        return np.where(self.is_word[known] > 0, off / (off + kb + prior), 0.0)

    def query(self, tokens: list[str]) -> tuple[np.ndarray, np.ndarray, float, float]:
        """(known feature ids, their weights, total weight incl. unseen features, weight of the unseen)."""
        ids = []
        unseen = 0.0
        for feature in features(tokens):
            fid = self.feature_ids.get(feature)
            if fid is None:
                unseen += self.unseen_idf * (NGRAM_WEIGHT if feature[0] == "g" else 1.0)
            else:
                ids.append(fid)
        known = np.asarray(ids, dtype=np.int64)
        weights = self.idf[known]
        return known, weights, float(weights.sum()) + unseen, unseen


class Matcher:
    """Answers questions from one knowledge base. Thread-safe for reading; build a new one to change it."""

    def __init__(
        self,
        kb: KnowledgeBase,
        thresholds: Thresholds,
        *,
        model: JamoModel | None = None,
        text_tokens: TextTokens | None = None,
    ):
        """`model`: the trained jamo model of this knowledge (its labels must be the entry ids, then
        NEGATIVE), used with the weights in `thresholds`. The thresholds come from bot/thresholds.py
        (`fit_learned`, or `lexical_matcher` for the lexical scorer alone), which scores with a Matcher:
        they are passed in, so this module never imports the fitting."""
        self.kb = kb
        self.index = Index(kb, text_tokens)
        if model is not None and model.labels != (*(e.id for e in kb.entries), NEGATIVE):
            raise ValueError("the jamo model was trained on other entries")
        self.model = model
        self.thresholds = thresholds
        # What the cache keeps so the next start skips analysing the KB's texts (bot/snapshot_cache.py).
        self.text_tokens: TextTokens = {
            "raw": self.index.analyzer.build_raw_tokens(),
            "tokens": dict(self.index.build_tokens),
        }
        # Build-time memos are not part of what a snapshot needs to answer.
        self.index.build_tokens = {}
        self.index.analyzer.forget_build_texts()

    # -- scoring ---------------------------------------------------------------------------------------
    def analyse(self, question: str) -> list[str]:
        return self.index.analyzer.tokens(question)

    def rank(
        self,
        question: str,
        exclude: tuple[int, int] | None = None,
        limit: int = CANDIDATES,
        off_topic_left_out: bool = False,
        leave_out: frozenset[int] = frozenset(),
    ) -> list[Scored]:
        """Candidates best first, scored as the thresholds say (lexical alone, or lexical + learned).

        `exclude=(entry, question number)` leaves one example question out of the lexical index (fitting
        the lexical-only thresholds); `off_topic_left_out`: the question is one of the off-topic file's,
        left out of its counts; `leave_out`: entries that are not candidates at all (a follow-up is about
        something other than the entry just answered), so the others' margins are to each other."""
        tokens = self.index.build_tokens.get(question) if exclude is not None else None
        if tokens is None:
            tokens = self.analyse(question)
        lexical, unseen = self.lexical(
            tokens, exclude=exclude, limit=limit, off_topic_left_out=off_topic_left_out
        )
        if leave_out:
            lexical = [s for s in lexical if s.index not in leave_out]
        return self.combine(question, lexical, unseen, leave_out)

    def rank_tokens(self, tokens: list[str], **kwargs) -> list[Scored]:
        """Lexical-only ranking of analysed tokens, with the unseen penalty of the lexical thresholds."""
        lexical, unseen = self.lexical(tokens, **kwargs)
        return self.combine(None, lexical, unseen)

    def combine(
        self,
        question: str | None,
        lexical: list[Scored],
        unseen: float,
        leave_out: frozenset[int] = frozenset(),
    ) -> list[Scored]:
        """Final scores: w_lex·lexical + w_jamo·p(entry) − w_neg·p(negative) − w_unseen·unseen share.

        The weights come with the thresholds (fitted together on grouped folds, bot/thresholds.py); the
        lexical-only thresholds have w_jamo = w_neg = 0. With `thresholds.stack` the score is the stacker's
        probability instead (stack_features). An example question asked word for word keeps 1.0."""
        t = self.thresholds
        model = self.model if t.w_jamo or t.w_neg or t.stack else None
        if model is None or question is None:
            out = [
                replace(s, score=min(1.0, max(0.0, 1.0 if s.exact else s.lexical - t.w_unseen * unseen)))
                for s in lexical
            ]
            out.sort(key=lambda s: -s.score)
            return out
        probs = model.probabilities(question)
        n = self.index.n
        negative = float(probs[n]) if len(probs) > n else 0.0
        by_index = {s.index: s for s in lexical}
        learned_top: list[int] = np.argsort(-probs[:n])[: LEARNED_CANDIDATES + len(leave_out)].tolist()
        for e in [e for e in learned_top if e not in leave_out][:LEARNED_CANDIDATES]:
            if e not in by_index:
                by_index[e] = Scored(e, 0.0, 0.0, 0.0, 0.0)
        if t.stack:
            cands = list(by_index.values())
            lex = np.fromiter((s.lexical for s in cands), np.float64, len(cands))
            learned = probs[np.fromiter((s.index for s in cands), np.int64, len(cands))].astype(np.float64)
            x = stack_features(
                lex, learned, np.zeros(len(cands), np.int64), np.asarray([negative]), np.asarray([unseen])
            )
            scores = stacked_score(x, t.stack)
            out = [
                replace(s, score=1.0 if s.exact else float(sc), learned=float(p))
                for s, sc, p in zip(cands, scores, learned, strict=True)
            ]
            out.sort(key=lambda s: (-s.score, -s.learned))
            return out
        penalty = t.w_neg * negative + t.w_unseen * unseen
        out = []
        for e, s in by_index.items():
            p = float(probs[e])
            score = 1.0 if s.exact else t.w_lex * s.lexical + t.w_jamo * p - penalty
            out.append(replace(s, score=min(1.0, max(0.0, score)), learned=p))
        out.sort(key=lambda s: (-s.score, -s.learned))
        return out

    def learned_negative(self, question: str) -> float:
        """The jamo model's probability that a question is off-topic or uncovered (0 without a model)."""
        if self.model is None:
            return 0.0
        probs = self.model.probabilities(question)
        return float(probs[self.index.n]) if len(probs) > self.index.n else 0.0

    def lexical(
        self,
        tokens: list[str],
        exclude: tuple[int, int] | None = None,
        limit: int = CANDIDATES,
        off_topic_left_out: bool = False,
    ) -> tuple[list[Scored], float]:
        """(lexical candidates best first, share of the question the KB has never seen)."""
        ix = self.index
        if not tokens or ix.n == 0:
            return [], 1.0
        known, weights, q_weight, unseen = ix.query(tokens)
        if q_weight <= 0 or len(known) == 0:
            return [], 1.0
        # Share of the question (idf-weighted) made of words and grams the knowledge base never uses:
        # "helm 차트", "점심 메뉴" are mostly that, a real question mostly isn't.
        unseen_share = 1.0 - float(weights.sum()) / q_weight
        generic = ix.generic(known, kb_less=float(exclude is not None), off_less=float(off_topic_left_out))
        generic_share = float((weights * generic).sum()) / q_weight
        starts, ends = ix.post_ptr[known], ix.post_ptr[known + 1]
        if int((ends - starts).sum()) == 0:
            return [], unseen_share
        picks = np.concatenate([np.arange(a, b) for a, b in zip(starts.tolist(), ends.tolist(), strict=True)])
        bm25 = np.bincount(ix.post_entries[picks], weights=ix.post_weights[picks], minlength=ix.n)
        k = min(limit, ix.n)
        top = np.argpartition(-bm25, k - 1)[:k] if k < ix.n else np.arange(ix.n)
        candidates = [int(e) for e in top if bm25[e] > 0]
        # Dense query vector: weight of each known feature, 0 elsewhere.
        qvec = np.zeros(len(ix.idf), dtype=np.float64)
        qvec[known] = weights
        skip_entry, skip_string = -1, -1
        if exclude is not None:
            skip_entry = exclude[0]
            skip_string = int(ix.entry_start[skip_entry]) + ix.question_offset[skip_entry] + exclude[1]

        if exclude is not None:
            self._leave_out_of_bm25(bm25, skip_entry, skip_string, known)
        if not candidates:
            return [], unseen_share
        cand = np.asarray(candidates, dtype=np.int64)
        top_bm25 = float(bm25[cand].max()) or 1.0

        # All strings of all candidates at once: their feature blocks are contiguous per entry.
        s0, s1 = ix.entry_start[cand], ix.entry_start[cand + 1]
        counts = s1 - s0
        strings = np.concatenate([np.arange(a, b) for a, b in zip(s0.tolist(), s1.tolist(), strict=True)])
        f0, f1 = ix.string_ptr[s0], ix.string_ptr[s1]
        feats = np.concatenate([ix.string_feats[a:b] for a, b in zip(f0.tolist(), f1.tolist(), strict=True)])
        block_base = np.concatenate([[0], np.cumsum(f1 - f0)[:-1]])
        offsets = ix.string_ptr[strings] - np.repeat(f0 - block_base, counts)
        firsts = np.concatenate([[0], np.cumsum(counts)[:-1]])  # first string of each candidate

        q_capped = min(q_weight, ix.cap_all)
        overlap = np.add.reduceat(qvec[feats], offsets)
        dice = np.minimum(2 * overlap / (q_capped + ix.string_weight[strings]), 1.0)
        qvec_words = qvec * ix.is_word
        q_weight_words = float(qvec_words.sum()) + unseen
        words = np.add.reduceat(qvec_words[feats], offsets)
        dice_words = 2 * words / (min(q_weight_words, ix.cap_words) + ix.string_weight_words[strings] + 1e-9)
        dice_words = np.minimum(dice_words, 1.0)
        choices = ix.string_fuzzy_array[strings].tolist()
        fuzzy_scores = process.cdist([fuzzy_key(tokens)], choices, scorer=fuzz.ratio, dtype=np.float64)[0]
        if skip_string >= 0:
            left_out = strings == skip_string
            dice[left_out] = dice_words[left_out] = fuzzy_scores[left_out] = 0.0

        best_words = np.maximum.reduceat(dice_words, firsts)
        best_fuzzy = np.maximum.reduceat(fuzzy_scores, firsts) / 100.0
        # Mean of the 3 best overlaps per candidate: sort by (candidate, -dice), take each run's first 3.
        owner = np.repeat(np.arange(len(cand)), counts)
        order = np.lexsort((-dice, owner))
        rank_in_run = np.arange(len(order)) - np.repeat(firsts, counts)
        best3 = np.where(rank_in_run < 3, dice[order], 0.0)
        top3 = np.bincount(owner, weights=best3, minlength=len(cand)) / np.minimum(counts, 3)
        bm25_rel = bm25[cand] / top_bm25
        cues = ix.world_cue[known]
        leaning = float(np.sign(cues.sum())) if cues.any() else 0.0
        other_world = (ix.world[cand] != (leaning > 0)) if leaning else np.zeros(len(cand), dtype=bool)
        scores = (
            WEIGHTS["words"] * best_words
            + WEIGHTS["top3"] * top3
            + WEIGHTS["fuzzy"] * best_fuzzy
            + WEIGHTS["bm25"] * bm25_rel
            - W_GENERIC * generic_share
            - W_WORLD * other_world
        )
        # An example question asked word for word (after normalisation) is answered by its own entry:
        # the knowledge base says where it belongs.
        exact = np.maximum.reduceat((fuzzy_scores >= 100.0) & (dice_words >= 0.999), firsts)
        out = []
        for e, sc, w, t, f, x in zip(cand, scores, best_words, top3, best_fuzzy, exact, strict=True):
            lexical = min(1.0, max(0.0, float(sc)))
            out.append(Scored(int(e), lexical, float(w), float(t), float(f), lexical, 0.0, bool(x)))
        out.sort(key=lambda s: (-s.score, -bm25[s.index]))
        return out, unseen_share

    def _leave_out_of_bm25(self, bm25: np.ndarray, entry: int, string: int, known: np.ndarray) -> None:
        """Recompute entry's BM25 as if example `string` were not in its bag (fitting on unseen questions)."""
        ix = self.index
        left = ix.string_feats[ix.string_ptr[string] : ix.string_ptr[string + 1]]
        common = np.intersect1d(left, known)
        if len(common) == 0:
            return
        b0, b1 = int(ix.bag_ptr[entry]), int(ix.bag_ptr[entry + 1])
        tf = ix.bag_counts[b0 + np.searchsorted(ix.bag_feats[b0:b1], common)].astype(np.float64)
        before = BM25_K1 * (1 - BM25_B + BM25_B * ix.bag_len[entry] / ix.avg_bag_len)
        after = BM25_K1 * (1 - BM25_B + BM25_B * (ix.bag_len[entry] - len(left)) / ix.avg_bag_len)
        old = tf * (BM25_K1 + 1) / (tf + before)
        new = (tf - 1) * (BM25_K1 + 1) / (tf - 1 + after)
        bm25[entry] += float((ix.idf[common] * (new - old)).sum())

    def uncovered_reason(self, question: str) -> str | None:
        """For a Docker/Kubernetes question no entry covers: what the bot does cover (else None)."""
        if not DOMAIN_WORDS.intersection(self.analyse(question)):
            return None
        return UNCOVERED_REPLY

    # -- answering -------------------------------------------------------------------------------------
    def match(self, question: str) -> Answer:
        """Answer one question. Never raises: unusable input is outcome 'invalid' with a Korean reason."""
        if not isinstance(question, str):
            question = "" if question is None else str(question)
        kind = small_talk(question)
        if kind is not None:
            return Answer(question, "smalltalk", None, (), SMALL_TALK_REPLIES[kind])
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
            return Answer(question, "no_answer", None, (), self.uncovered_reason(question))
        matches = [Match(entries[s.index], round(s.score, 4)) for s in ranked if s.score >= t.suggest]
        if ranked[0].score >= t.answer:
            return Answer(question, "answered", matches[0], tuple(matches[1:MAX_ALTERNATIVES]))
        return Answer(question, "suggested", None, tuple(matches[:MAX_ALTERNATIVES]))


@dataclass(frozen=True)
class Thresholds:
    """Decision thresholds on the 0..1 score, fitted by bot/thresholds.py."""

    answer: float
    suggest: float
    # Fitted on a sample for a fast first start; the full fit replaces it (bot/snapshot_cache.py).
    provisional: bool = False
    # How the final score is made (Matcher.combine). The defaults are the lexical scorer alone.
    w_lex: float = 1.0
    w_jamo: float = 0.0
    w_neg: float = 0.0
    w_unseen: float = W_UNSEEN
    # When set, the score is the stacker's instead of the weighted sum: (bias, one coefficient per
    # STACK_FEATURES name), fitted by bot/thresholds.py fit_stacker.
    stack: tuple[float, ...] = ()


# Replies to casual noise (bot/korean.py small_talk): kind, never "your question is empty".
SMALL_TALK_REPLIES = {
    "thanks": "천만에요! 😊 Docker나 Kubernetes에 대해 또 궁금한 게 생기면 언제든 물어보세요.",
    "greeting": "안녕하세요! 👋 Docker·Kubernetes 질문을 편하게 적어 주세요. (예: `명명된 볼륨이 뭐야?`)",
    "ack": "네! 😊 더 궁금한 게 있으면 언제든 물어보세요.",
    "laugh": "😊 Docker나 Kubernetes에 대해 궁금한 게 있으면 편하게 물어보세요. (예: `컨테이너 통신`)",
}
# Words (after analysis) that make a question Docker/Kubernetes-ish even when no entry answers it.
DOMAIN_WORDS = frozenset(
    """도커 docker 쿠버네티스 kubernetes 컨테이너 포드 kubectl 클러스터 노드 helm 헬름 istio 이스티오 rbac
    네임스페이스 디플로이먼트 매니페스트 레지스트리 dockerfile 도커파일 컴포즈 이미지 볼륨 인그레스 ingress
    시크릿 secret configmap 컨피그맵 statefulset daemonset 오토스케일링 hpa""".split()  # noqa: SIM905
)
UNCOVERED_REPLY = (
    "그 주제는 아직 제가 답할 수 있는 범위 밖이에요. 지금은 Docker(컨테이너 실행·로그·포트·"
    "환경 변수·자원 제한, 이미지·Dockerfile·레지스트리, 볼륨·바인드 마운트, 네트워크, Compose)와 "
    "Kubernetes(파드, 노드, 디플로이먼트, 서비스·Ingress, ConfigMap/Secret, 프로브, PV/PVC, HPA, "
    "kubectl …)를 답해요."
)


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
