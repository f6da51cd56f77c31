"""A cached, ready-to-serve knowledge snapshot, so `dockbot ask` answers within its 0.5 s cold-start budget.

Parsing and validating the YAML and building the index take about a second; unpickling the finished
snapshot takes a few milliseconds. The cache file is keyed by a hash of the knowledge files' bytes and of
the matcher's source code, so any edit (content or code) simply misses and the snapshot is rebuilt.
It lives in $XDG_CACHE_HOME/dockbot (default ~/.cache/dockbot), never in knowledge/; any failure to read
or write it only costs a rebuild.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import pickle
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from bot.thresholds import cache_dir, code_hash

if TYPE_CHECKING:
    from bot.live_knowledge import Snapshot

log = logging.getLogger(__name__)

_KEEP = 8  # snapshot files kept; older ones are removed when a new one is written
WARM_LOCK_S = 120  # a background warm-up older than this is taken to have died


def snapshot_path(directory: Path, version: str) -> Path:
    where = hashlib.sha256(str(directory.resolve()).encode()).hexdigest()[:8]
    return cache_dir() / f"snapshot-{where}-{version}-{code_hash()}.pickle"


def load(directory: Path, version: str) -> Snapshot | None:
    path = snapshot_path(directory, version)
    try:
        with path.open("rb") as handle:
            snapshot = pickle.load(handle)
    except FileNotFoundError:
        return None
    except Exception as exc:  # corrupt or from another Python: rebuild
        log.info("ignoring unusable snapshot cache %s: %s", path, exc)
        return None
    if getattr(snapshot, "version", None) != version:
        return None
    # The cached kb remembers where it was loaded from; serve it for the directory asked for.
    if Path(snapshot.kb.directory) != directory.resolve():
        return None
    return snapshot


def warm_in_background(directory: Path) -> None:
    """Start a detached `python -m bot.snapshot_cache DIR` that fits and caches the full snapshot.

    One at a time per knowledge directory and code (a lock file; a stale one older than WARM_LOCK_S is
    taken over); it outlives this process, so the next `dockbot ask` starts warm."""
    lock = snapshot_path(directory, "warming").with_suffix(".lock")
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
            [sys.executable, "-m", "bot.snapshot_cache", str(directory.resolve()), str(lock)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            close_fds=True,
        )
    except Exception as exc:  # no cache dir, no fork...: the next run simply fits again
        log.info("cannot warm the snapshot cache in the background: %s", exc)


def main(argv: list[str]) -> int:
    """Child of warm_in_background: build (full fit) and store the snapshot, then release the lock."""
    from bot.live_knowledge import build_snapshot

    directory, lock = Path(argv[0]), Path(argv[1])
    try:
        build_snapshot(directory)
    except Exception:  # invalid knowledge: the foreground run reports it, nothing to cache
        return 1
    finally:
        lock.unlink(missing_ok=True)
    return 0


def store(directory: Path, snapshot: Snapshot) -> None:
    path = snapshot_path(directory, snapshot.version)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tmp.open("wb") as handle:
            pickle.dump(snapshot, handle, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
        old = sorted(path.parent.glob("snapshot-*.pickle"), key=lambda p: p.stat().st_mtime, reverse=True)
        for stale in old[_KEEP:]:
            stale.unlink(missing_ok=True)
    except Exception as exc:  # read-only home, unpicklable scenario...: serve anyway, rebuild next time
        log.info("cannot cache the knowledge snapshot in %s: %s", path.parent, exc)
        # On a read-only filesystem even the clean-up fails (EROFS, not ENOENT): never let it escape.
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
