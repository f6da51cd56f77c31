"""The knowledge base the bot serves right now, swappable at runtime without a restart.

`current` is one immutable Snapshot (kb + matcher + version); a reload builds a complete new snapshot and
then swaps the reference, so a question being answered keeps the snapshot it started with. An invalid edit
never replaces the last good snapshot: the problems are returned for the admins instead.
"""

from __future__ import annotations

import hashlib
import logging
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

from bot.knowledge import KnowledgeBase, KnowledgeError, knowledge_files, load_knowledge
from bot.matcher import Matcher
from bot.yamlfile import Problem

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Snapshot:
    kb: KnowledgeBase
    matcher: Matcher
    version: str  # a hash of the knowledge files' content
    provisional: bool = False  # the lexical scorer alone, answering until the learned model is trained
    # After an edit: the previous model with the changed entries refitted, answering until the full
    # training (in the background) replaces it. Never cached.
    interim: bool = False


@dataclass(frozen=True)
class ReloadResult:
    ok: bool
    changed: bool
    problems: list[Problem] = field(default_factory=list)
    version: str = ""


def content_version(directory: Path) -> str:
    """A short hash of every knowledge file's name and bytes (unreadable files count as changed)."""
    digest = hashlib.sha256()
    for path in knowledge_files(directory):
        digest.update(str(path.relative_to(directory)).encode())
        try:
            digest.update(path.read_bytes())
        except OSError:
            digest.update(b"\0unreadable")
    return digest.hexdigest()[:16]


def build_snapshot(
    directory: Path,
    *,
    use_cache: bool = True,
    quick: bool = False,
    detach: bool = True,
    previous: Snapshot | None = None,
) -> Snapshot:
    """Load and index `directory`; the learned model is cached or trained. Raises KnowledgeError.

    Training (the jamo model and the grouped-fold fit of weights and thresholds, seconds) happens in the
    calling thread: a reload runs in the reloader's thread while the old snapshot keeps answering.
    quick=True is for a one-shot answer on an empty cache: the lexical scorer alone with thresholds fitted
    on a sample (provisional) answers, and a detached process trains and caches the model for the next run.
    `previous` (a reload): when the cache has nothing, the previous model refitted for the changed entries
    makes an interim snapshot (seconds instead of a full training); the caller trains in full afterwards.
    """
    from bot import snapshot_cache
    from bot.thresholds import fit_learned, lexical_matcher, load_combination, refit_model

    version = content_version(directory)
    kb = load_knowledge(directory)
    cached = snapshot_cache.load(version, kb) if use_cache else None
    if cached is not None:
        model, thresholds, text_tokens = cached
        matcher = Matcher(kb, thresholds, model=model, text_tokens=text_tokens)
        return Snapshot(kb=kb, matcher=matcher, version=version)
    if quick and use_cache:
        snapshot = Snapshot(kb=kb, matcher=lexical_matcher(kb, quick=True), version=version, provisional=True)
        if detach:  # a one-shot process: a detached trainer caches the model for the next run
            snapshot_cache.warm_in_background(directory)
        return snapshot
    if previous is not None and previous.matcher.model is not None and not previous.provisional:
        refitted = refit_model(kb, previous.kb, previous.matcher.model)
        if refitted is not None:
            thresholds = load_combination(kb) or previous.matcher.thresholds
            matcher = Matcher(kb, thresholds, model=refitted)
            return Snapshot(kb=kb, matcher=matcher, version=version, interim=True)
    model, thresholds = fit_learned(kb)
    snapshot = Snapshot(kb=kb, matcher=Matcher(kb, thresholds, model=model), version=version)
    if use_cache:
        matcher = snapshot.matcher
        snapshot_cache.store(version, matcher.model, matcher.thresholds, matcher.text_tokens)
    return snapshot


class LiveKnowledge:
    def __init__(self, directory: Path, snapshot: Snapshot):
        self.directory = Path(directory)
        self._snapshot = snapshot
        self._lock = threading.Lock()

    @classmethod
    def load(cls, directory: Path | str, *, quick: bool = False) -> LiveKnowledge:
        """Load the knowledge base once. Raises KnowledgeError when it is invalid (nothing to serve yet).

        quick=True (one question, then exit): see build_snapshot."""
        directory = Path(directory)
        return cls(directory, build_snapshot(directory, quick=quick))

    @classmethod
    def load_serving(cls, directory: Path | str) -> LiveKnowledge:
        """For a long-running process: answer at once and learn in the background.

        With the model cached this is `load`. On an empty cache (a new container whose knowledge differs
        from the baked-in copy) the lexical scorer answers with provisional thresholds while a thread
        trains the model; the trained snapshot is swapped in like a reload, so the process is healthy and
        answering within a second instead of after the training."""
        directory = Path(directory)
        live = cls(directory, build_snapshot(directory, quick=True, detach=False))
        if live.current.provisional:
            threading.Thread(target=live._finish_training, name="dockbot-train", daemon=True).start()
        return live

    def _finish_training(self, standing: Snapshot | None = None) -> None:
        """Train `standing`'s knowledge in full (default: the current snapshot) and swap the result in,
        unless a reload has replaced `standing` meanwhile."""
        provisional = standing or self._snapshot
        log.info(
            "knowledge %s: answering with the %s while the model trains",
            provisional.version,
            "refitted model" if provisional.interim else "lexical scorer",
        )
        try:
            trained = build_snapshot(self.directory)
        except Exception:  # keep answering with the provisional snapshot; a reload retries
            log.exception("background training failed")
            return
        with self._lock:
            if self._snapshot is provisional and trained.version == provisional.version:
                self._snapshot = trained
                log.info("knowledge %s: the trained model answers now", trained.version)

    @property
    def current(self) -> Snapshot:
        return self._snapshot

    def reload(self) -> ReloadResult:
        """Re-read the files; swap in the new snapshot only when it is valid and different."""
        with self._lock:
            old = self._snapshot
            try:
                version = content_version(self.directory)
                if version == old.version:
                    return ReloadResult(ok=True, changed=False, problems=[], version=version)
                fresh = build_snapshot(self.directory, previous=old)
            except KnowledgeError as exc:
                log.warning(
                    "knowledge reload rejected: %d problem(s); keeping version %s",
                    len(exc.problems),
                    old.version,
                )
                return ReloadResult(ok=False, changed=False, problems=list(exc.problems), version=old.version)
            except Exception as exc:  # never lose the serving snapshot to an unexpected error
                log.exception("knowledge reload failed")
                where = Problem(str(self.directory), 1, f"reload failed: {type(exc).__name__}: {exc}")
                return ReloadResult(ok=False, changed=False, problems=[where], version=old.version)
            self._snapshot = fresh
            log.info("knowledge reloaded: version %s -> %s", old.version, fresh.version)
        if fresh.interim:  # the full training runs after the lock: later reloads are not held up
            threading.Thread(
                target=self._finish_training, args=(fresh,), name="dockbot-train", daemon=True
            ).start()
        return ReloadResult(ok=True, changed=True, problems=[], version=fresh.version)


def train_and_cache(argv: list[str]) -> int:
    """`python -m bot.live_knowledge DIR LOCK`, the child of snapshot_cache.warm_in_background (and the
    image build): train, fit and cache the model for DIR, then release the lock."""
    directory, lock = Path(argv[0]), Path(argv[1])
    try:
        build_snapshot(directory)
    except Exception:  # invalid knowledge: the foreground run reports it, nothing to cache
        return 1
    finally:
        lock.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(train_and_cache(sys.argv[1:]))
