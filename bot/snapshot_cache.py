"""A cached, ready-to-serve knowledge snapshot, so `dockbot ask` answers within its 0.5 s cold-start budget.

Parsing and validating the YAML and building the index take about a second; unpickling the finished
snapshot takes a few milliseconds. The cache file is keyed by a hash of the knowledge files' bytes and of
the matcher's source code, so any edit (content or code) simply misses and the snapshot is rebuilt.
It lives in $XDG_CACHE_HOME/dockbot (default ~/.cache/dockbot), never in knowledge/; any failure to read
or write it only costs a rebuild.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
from pathlib import Path
from typing import TYPE_CHECKING

from bot.thresholds import cache_dir, code_hash

if TYPE_CHECKING:
    from bot.live_knowledge import Snapshot

log = logging.getLogger(__name__)

_KEEP = 8  # snapshot files kept; older ones are removed when a new one is written


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
        tmp.unlink(missing_ok=True)
