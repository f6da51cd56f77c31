"""The learned scorer: a linear classifier over character n-grams of the jamo (NFD) spelling of a question.

Why jamo: 머예요/뭐예요, 볼룸/볼륨, 햇는데/했는데 share most of their letters but no syllable, so a typo
costs a few n-grams instead of the whole word (measured in docs/matching.md §7).

- Features: `char_wb` 1-4-grams (inside each word padded with spaces, as scikit-learn's analyzer of that
  name) of the normalised text (bot/korean.py `clean_text`) in NFD, TF-IDF weighted, L2-normalised.
- Classifier: one logistic regression per class (one-vs-rest) over the example questions; the off-topic
  and uncovered questions form one more class, NEGATIVE. Each class is fitted against the examples of its
  most similar classes plus a fixed sample of the rest ("sampled negatives"), so retraining grows about
  linearly with the knowledge base instead of with its square.
- Scoring is numpy only: the vocabulary, idf and a sparse coefficient matrix (per feature: the classes
  with a weight) are all the scorer needs. scikit-learn is imported by `train` only, off the request path.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from bot.korean import clean_text

NGRAM_MIN, NGRAM_MAX = 1, 4
NEGATIVE = "\0negative"  # label of the class made of off-topic and uncovered questions
# Each per-class logistic regression is fitted by SGD (log loss): L2 strength and passes over its pool.
# Measured on grouped folds: the same top-1 as liblinear/lbfgs/multinomial fits (63-64%), 3-15x faster.
ALPHA = 1e-5
EPOCHS = 20
# Negatives of a class: every example of its NEIGHBOURS most similar classes (centroid cosine), the negative
# class, and up to SAMPLE other examples drawn once per training run (seeded: a retrain is reproducible).
NEIGHBOURS = 15
SAMPLE = 500
# A class keeps at most this many coefficients (largest first): bounds memory and scoring time at 10,000
# entries. Measured on the dev questions: 4,000 / 1,500 / 800 gave the same top-1 (97.2%), answered right
# 96.6 / 96.2 / 96.2%, off-topic rejected 98.1 / 100 / 100%, uncovered 88.9 / 88.9 / 83.3%.
MAX_COEFS_PER_CLASS = 1500
SEED = 20261203


def model_text(text: str) -> str:
    """What the model reads: the normalised text (Slack markup, NFKC, case) spelled as jamo."""
    return unicodedata.normalize("NFD", clean_text(text))


def char_wb_ngrams(text: str) -> list[str]:
    """Character 1-4-grams inside each whitespace-separated word padded with one space each side."""
    grams: list[str] = []
    for word in text.split():
        padded = f" {word} "
        size = len(padded)
        for n in range(NGRAM_MIN, NGRAM_MAX + 1):
            if n > size:
                break
            grams.extend(padded[i : i + n] for i in range(size - n + 1))
    return grams


@dataclass(frozen=True)
class JamoModel:
    """A trained model, read-only. Arrays only (saved as .npz without pickle, see bot/snapshot_cache.py)."""

    labels: tuple[str, ...]  # entry ids, then NEGATIVE
    vocabulary: dict[str, int]
    idf: np.ndarray  # float32 (V,)
    coef_ptr: np.ndarray  # int64 (V + 1,): feature f owns coef_class/coef_value[coef_ptr[f]:coef_ptr[f+1]]
    coef_class: np.ndarray  # int32
    coef_value: np.ndarray  # float32
    bias: np.ndarray  # float32 (C,)

    def vector(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """(feature ids, L2-normalised TF-IDF weights) of a text; unknown n-grams are simply absent."""
        counts = Counter(char_wb_ngrams(model_text(text)))
        ids = [self.vocabulary[g] for g in counts if g in self.vocabulary]
        if not ids:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        fid = np.asarray(ids, dtype=np.int64)
        tf = np.fromiter((counts[g] for g in counts if g in self.vocabulary), np.float32, len(ids))
        weights = tf * self.idf[fid]
        norm = float(np.sqrt((weights * weights).sum())) or 1.0
        return fid, weights / norm

    def logits(self, text: str) -> np.ndarray:
        """Decision value of every class (float64, len(labels)); the bias alone when nothing is known."""
        fid, weights = self.vector(text)
        out = self.bias.astype(np.float64)
        if len(fid) == 0:
            return out
        starts, ends = self.coef_ptr[fid], self.coef_ptr[fid + 1]
        lengths = ends - starts
        if int(lengths.sum()) == 0:
            return out
        # Gather every (class, weight) posting of the question's features in one pass.
        picks = np.repeat(starts - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths) + np.arange(
            int(lengths.sum())
        )
        contrib = self.coef_value[picks] * np.repeat(weights, lengths)
        out += np.bincount(self.coef_class[picks], weights=contrib, minlength=len(self.labels))
        return out

    def probabilities(self, text: str) -> np.ndarray:
        """Per class, the one-vs-rest probability that the text belongs to it (not summing to 1)."""
        return 1.0 / (1.0 + np.exp(-self.logits(text)))

    def arrays(self) -> dict[str, np.ndarray]:
        """Everything but labels and vocabulary (those go to JSON)."""
        return {
            "idf": self.idf,
            "coef_ptr": self.coef_ptr,
            "coef_class": self.coef_class,
            "coef_value": self.coef_value,
            "bias": self.bias,
        }

    @classmethod
    def from_arrays(cls, labels: Sequence[str], vocabulary: Sequence[str], arrays: dict) -> JamoModel:
        """Rebuild from `arrays()` and the JSON parts; raises ValueError when the shapes disagree."""
        vocab = {g: i for i, g in enumerate(vocabulary)}
        model = cls(
            labels=tuple(labels),
            vocabulary=vocab,
            idf=np.asarray(arrays["idf"], dtype=np.float32),
            coef_ptr=np.asarray(arrays["coef_ptr"], dtype=np.int64),
            coef_class=np.asarray(arrays["coef_class"], dtype=np.int32),
            coef_value=np.asarray(arrays["coef_value"], dtype=np.float32),
            bias=np.asarray(arrays["bias"], dtype=np.float32),
        )
        n_feat, n_class = len(vocab), len(model.labels)
        ok = (
            len(vocab) == len(vocabulary)
            and model.idf.shape == (n_feat,)
            and model.coef_ptr.shape == (n_feat + 1,)
            and model.bias.shape == (n_class,)
            and model.coef_class.shape == model.coef_value.shape
            and int(model.coef_ptr[0]) == 0
            and int(model.coef_ptr[-1]) == len(model.coef_class)
            and bool(np.all(np.diff(model.coef_ptr) >= 0))
            and (
                len(model.coef_class) == 0
                or 0 <= int(model.coef_class.min()) <= int(model.coef_class.max()) < n_class
            )
        )
        if not ok:
            raise ValueError("jamo model arrays do not fit together")
        return model


def train(
    texts: Sequence[str],
    labels: Sequence[str],
    classes: Sequence[str],
    *,
    base: JamoModel | None = None,
    only: frozenset[str] | None = None,
) -> JamoModel:
    """Fit one logistic regression per class of `classes` (entry ids and NEGATIVE) on labelled texts.

    `base` + `only` (fitting on folds of a large knowledge base, or refitting the entries an edit changed):
    fit just the classes in `only`, over base's vocabulary (n-grams the texts lack get idf 0, i.e. they are
    absent as in a model trained on these texts alone), and copy every other class from base by label.
    Imports scikit-learn and scipy (about a second): call it off the request path."""
    from scipy import sparse
    from sklearn.linear_model import SGDClassifier

    classes = tuple(classes)
    class_of = {c: i for i, c in enumerate(classes)}
    y = np.asarray([class_of[label] for label in labels], dtype=np.int64)
    vocabulary: dict[str, int] = dict(base.vocabulary) if base is not None else {}
    # Each distinct text's (column ids, counts) once: knowledge bases repeat texts (shared keywords, the
    # bench's replicated entries), and per-gram Python work is most of a large training's set-up.
    memo: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    doc_cols, doc_vals = [], []
    for text in texts:
        found = memo.get(text)
        if found is None:
            counts = Counter(char_wb_ngrams(model_text(text)))
            if base is not None:
                pairs = [(vocabulary[g], c) for g, c in counts.items() if g in vocabulary]
            else:
                pairs = [(vocabulary.setdefault(g, len(vocabulary)), c) for g, c in counts.items()]
            found = memo[text] = (
                np.fromiter((col for col, _ in pairs), np.int64, len(pairs)),
                np.fromiter((c for _, c in pairs), np.float64, len(pairs)),
            )
        doc_cols.append(found[0])
        doc_vals.append(found[1])
    n_docs, n_feat = len(texts), len(vocabulary)
    lengths = np.fromiter((len(c) for c in doc_cols), np.int64, n_docs)
    cols = np.concatenate(doc_cols) if n_docs else np.zeros(0, np.int64)
    vals = np.concatenate(doc_vals) if n_docs else np.zeros(0, np.float64)
    rows = np.repeat(np.arange(n_docs), lengths)
    x = sparse.csr_matrix((vals, (rows, cols)), shape=(n_docs, n_feat))
    df = np.bincount(cols, minlength=n_feat)
    idf = (np.log((1 + n_docs) / (1 + df)) + 1.0).astype(np.float64)  # scikit-learn's smooth idf
    idf[df == 0] = 0.0
    x = sparse.csr_matrix(x.multiply(idf[None, :]))
    norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    x = sparse.csr_matrix(sparse.diags(1.0 / norms) @ x)
    n_class = len(classes)
    members = [np.flatnonzero(y == c) for c in range(n_class)]
    # Class centroids (normalised) give each class its most confusable neighbours.
    centroid = sparse.csr_matrix((np.ones(n_docs), (y, np.arange(n_docs))), shape=(n_class, n_docs)) @ x
    cnorm = np.sqrt(np.asarray(centroid.multiply(centroid).sum(axis=1)).ravel())
    cnorm[cnorm == 0] = 1.0
    centroid = sparse.csr_matrix(sparse.diags(1.0 / cnorm) @ centroid)
    # Nearest classes by centroid cosine, a block of classes at a time (10,000 x 10,000 would not fit).
    neighbours = np.zeros((n_class, min(NEIGHBOURS, max(0, n_class - 1))), dtype=np.int64)
    for a in range(0, n_class, 512):
        block = (centroid[a : a + 512] @ centroid.T).toarray()
        block[np.arange(len(block)), np.arange(a, a + len(block))] = -np.inf  # not its own neighbour
        k = neighbours.shape[1]
        if k:
            part = np.argpartition(-block, k - 1, axis=1)[:, :k] if k < n_class else np.argsort(-block)
            neighbours[a : a + len(block)] = part[:, :k]
    rng = np.random.default_rng(SEED)
    sample = rng.permutation(n_docs)[:SAMPLE]
    negative = class_of.get(NEGATIVE)

    coef_rows, coef_cols, coef_vals = [], [], []
    bias = np.zeros(n_class, dtype=np.float32)
    fitted = range(n_class) if only is None else [class_of[c] for c in only if c in class_of]
    if base is not None and only is not None:
        # Classes not refitted keep base's coefficients (same vocabulary), found by label: base may have
        # had entries since removed (dropped) and lack new ones (those must be in `only`).
        new_of_old = np.asarray([class_of.get(label, -1) for label in base.labels], dtype=np.int64)
        missing = [c for c in classes if c not in set(base.labels) and c not in only]
        if missing:
            raise ValueError(f"classes neither in base nor refitted: {missing[:3]}")
        moved = new_of_old[base.coef_class]
        mask = (moved >= 0) & ~np.isin(moved, np.asarray(fitted, dtype=np.int64))
        owner = np.repeat(np.arange(n_feat), np.diff(base.coef_ptr))
        coef_rows.append(moved[mask].astype(np.int32))
        coef_cols.append(owner[mask].astype(np.int64))
        coef_vals.append(base.coef_value[mask])
        kept = new_of_old >= 0
        bias[new_of_old[kept]] = base.bias[kept]
    for c in fitted:
        if len(members[c]) == 0:
            bias[c] = -20.0
            continue
        near = neighbours[c].tolist()
        if negative is not None and negative != c:
            near.append(negative)
        pool = np.unique(np.concatenate([members[c], *[members[k] for k in near], sample]))
        target = (y[pool] == c).astype(np.int64)
        if target.min() == target.max():  # one class only in the pool: nothing to separate
            bias[c] = 20.0 if target[0] else -20.0
            continue
        fit = SGDClassifier(loss="log_loss", alpha=ALPHA, max_iter=EPOCHS, tol=None, random_state=SEED)
        fit.fit(x[pool], target)
        w = fit.coef_[0]
        keep = np.flatnonzero(w)
        if len(keep) > MAX_COEFS_PER_CLASS:
            keep = keep[np.argsort(-np.abs(w[keep]))[:MAX_COEFS_PER_CLASS]]
        coef_rows.append(np.full(len(keep), c, np.int32))
        coef_cols.append(keep.astype(np.int64))
        coef_vals.append(w[keep].astype(np.float32))
        bias[c] = float(fit.intercept_[0])
    cls_arr = np.concatenate(coef_rows) if coef_rows else np.zeros(0, np.int32)
    feat_arr = np.concatenate(coef_cols) if coef_cols else np.zeros(0, np.int64)
    val_arr = np.concatenate(coef_vals) if coef_vals else np.zeros(0, np.float32)
    order = np.argsort(feat_arr, kind="stable")
    coef_ptr = np.searchsorted(feat_arr[order], np.arange(n_feat + 1)).astype(np.int64)
    return JamoModel(
        labels=classes,
        vocabulary=vocabulary,
        idf=idf.astype(np.float32),
        coef_ptr=coef_ptr,
        coef_class=cls_arr[order].astype(np.int32),
        coef_value=val_arr[order],
        bias=bias,
    )


def softmax_share(logits: np.ndarray) -> np.ndarray:
    """Logits as shares summing to 1 (for combining: how much of the evidence one class holds)."""
    shifted = logits - float(logits.max()) if len(logits) else logits
    exp = np.exp(shifted)
    total = float(exp.sum()) or 1.0
    return exp / total
