"""The trained parts of a knowledge snapshot, cached so a start answers at once instead of retraining.

What is cached is data only, in formats that cannot execute code: the jamo model's arrays as `.npz` read
with `allow_pickle=False`, and a JSON file with its labels, vocabulary, the fitted weights/thresholds and
the SHA-256 of the `.npz` bytes. A load checks that hash, the knowledge version and the code hash, and that
the labels are the entries being served; anything else (a tampered, truncated or foreign file) is ignored
and the model is retrained. The knowledge itself is always re-read from the YAML (0.1 s) and the lexical
index rebuilt (0.2 s): no object graph is ever deserialised from the cache directory, so write access
there (it may sit on the DB volume) is not code execution.

Files live in $XDG_CACHE_HOME/dockbot (default ~/.cache/dockbot), never in knowledge/; any failure to read
or write them only costs a retrain.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import math
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from bot.config import cache_dir
from bot.thresholds import code_hash

if TYPE_CHECKING:
    from bot.jamo_model import JamoModel
    from bot.knowledge import KnowledgeBase
    from bot.matcher import TextTokens, Thresholds

log = logging.getLogger(__name__)

FORMAT = 1
_KEEP = 8  # trained models kept; older ones are removed when a new one is written
WARM_LOCK_S = 300  # a background training older than this is taken to have died
_THRESHOLD_FIELDS = ("answer", "suggest", "w_lex", "w_jamo", "w_neg", "w_unseen")


def _stem(version: str) -> Path:
    # Keyed by content and code only: a copy of the same knowledge elsewhere reuses the trained model.
    return cache_dir() / f"model-{version}-{code_hash()}"


def model_paths(version: str) -> tuple[Path, Path]:
    """(JSON metadata, .npz arrays) of the trained model of one knowledge version."""
    stem = _stem(version)
    return stem.with_suffix(".json"), stem.with_suffix(".npz")


def load(version: str, kb: KnowledgeBase) -> tuple[JamoModel, Thresholds, TextTokens] | None:
    """The cached model, fitted thresholds and text tokens of this knowledge version, or None (missing or
    not trusted)."""
    from bot.jamo_model import NEGATIVE, JamoModel
    from bot.matcher import Thresholds

    meta_path, npz_path = model_paths(version)
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        log.info("ignoring unreadable model cache %s: %s", meta_path, exc)
        return None
    try:
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise ValueError("unknown format")
        if meta.get("version") != version or meta.get("code") != code_hash():
            raise ValueError("made for other knowledge or code")
        blob = npz_path.read_bytes()
        if hashlib.sha256(blob).hexdigest() != meta.get("npz_sha256"):
            raise ValueError("the arrays do not match their recorded hash")
        with np.load(io.BytesIO(blob), allow_pickle=False) as arrays:
            data = {name: arrays[name] for name in arrays.files}
        labels, vocabulary = meta["labels"], meta["vocabulary"]
        if labels != [*(e.id for e in kb.entries), NEGATIVE]:
            raise ValueError("trained on other entries")
        if not all(isinstance(g, str) for g in vocabulary):
            raise ValueError("vocabulary is not a list of strings")
        model = JamoModel.from_arrays(labels, vocabulary, data)
        values: dict[str, Any] = {name: float(meta["thresholds"][name]) for name in _THRESHOLD_FIELDS}
        stack = tuple(float(v) for v in meta["thresholds"].get("stack", ()))
        if not all(math.isfinite(v) for v in (*values.values(), *stack)):
            raise ValueError("non-finite threshold")
        values["stack"] = stack
        text_tokens = meta.get("text_tokens") or {"raw": {}, "tokens": {}}
        if not _is_text_tokens(text_tokens):
            raise ValueError("text tokens are not lists of strings")
        return model, Thresholds(**values), text_tokens
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("ignoring model cache %s: %s", meta_path, exc)
        return None


def _is_text_tokens(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and set(value) == {"raw", "tokens"}
        and all(
            isinstance(part, dict)
            and all(
                isinstance(k, str) and isinstance(v, list) and all(isinstance(t, str) for t in v)
                for k, v in part.items()
            )
            for part in value.values()
        )
    )


def store(
    version: str, model: JamoModel | None, thresholds: Thresholds, text_tokens: TextTokens | None
) -> None:
    """Cache what was trained for knowledge `version` (nothing without a model or with provisional
    thresholds). A plain keyed store: it knows nothing of snapshots (bot/live_knowledge.py builds those)."""
    if model is None or thresholds.provisional:
        return
    meta_path, npz_path = model_paths(version)
    tmp_npz = npz_path.with_suffix(f".{os.getpid()}.npz.tmp")
    tmp_meta = meta_path.with_suffix(f".{os.getpid()}.json.tmp")
    try:
        buffer = io.BytesIO()
        arrays: dict[str, Any] = model.arrays()  # by name: savez's own keywords are not array names
        np.savez(buffer, **arrays)
        blob = buffer.getvalue()
        vocabulary = [""] * len(model.vocabulary)
        for gram, i in model.vocabulary.items():
            vocabulary[i] = gram
        meta: dict[str, Any] = {
            "format": FORMAT,
            "version": version,
            "code": code_hash(),
            "npz_sha256": hashlib.sha256(blob).hexdigest(),
            "labels": list(model.labels),
            "vocabulary": vocabulary,
            "thresholds": {
                **{name: getattr(thresholds, name) for name in _THRESHOLD_FIELDS},
                "stack": list(thresholds.stack),
            },
            "text_tokens": text_tokens,
        }
        meta_path.parent.mkdir(parents=True, exist_ok=True)
        tmp_npz.write_bytes(blob)
        tmp_meta.write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
        # Arrays first: a reader that finds the new JSON also finds the arrays it names.
        os.replace(tmp_npz, npz_path)
        os.replace(tmp_meta, meta_path)
        for path in (meta_path, npz_path):
            with contextlib.suppress(OSError):
                path.chmod(0o600)
        old = sorted(meta_path.parent.glob("model-*.json"), key=lambda p: p.stat().st_mtime, reverse=True)
        for stale in old[_KEEP:]:
            stale.unlink(missing_ok=True)
            stale.with_suffix(".npz").unlink(missing_ok=True)
    except Exception as exc:  # read-only home, full disk...: serve anyway, retrain next time
        log.info("cannot cache the trained model in %s: %s", meta_path.parent, exc)
        # On a read-only filesystem even the clean-up fails (EROFS, not ENOENT): never let it escape.
        for tmp in (tmp_npz, tmp_meta):
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)


# The detached trainer: bot/live_knowledge.py builds snapshots, and this cache must not import it back.
TRAINER = "bot.live_knowledge"


def warm_in_background(directory: Path) -> None:
    """Start a detached `python -m bot.live_knowledge DIR LOCK` that trains, fits and caches the model.

    One at a time per knowledge directory and code (a lock file; a stale one older than WARM_LOCK_S is
    taken over); it outlives this process, so the next `dockbot ask` starts warm."""
    where = hashlib.sha256(str(directory.resolve()).encode()).hexdigest()[:8]
    lock = _stem(f"training-{where}").with_suffix(".lock")
    try:
        lock.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            if time.time() - lock.stat().st_mtime < WARM_LOCK_S:
                return
            lock.unlink(missing_ok=True)
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        os.close(fd)
        subprocess.Popen(
            [sys.executable, "-m", TRAINER, str(directory.resolve()), str(lock)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            close_fds=True,
        )
    except Exception as exc:  # no cache dir, no fork...: the next run simply trains again
        log.info("cannot train the model in the background: %s", exc)
