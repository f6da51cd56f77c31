"""A file lock per demo run, so any process on this host can tell a live run from an abandoned one.

The runner holds `<tmp>/dockbot-runs/<run id>.lock` (flock) from before it creates anything until its cleanup
is done. The kernel drops the lock when the process dies (SIGKILL included), and a run whose cleanup could
not finish (the engine stopped) leaves the file unlocked on purpose. So `dockbot gc` in another process can
remove those leftovers at once instead of waiting for their expiry, and never touches a run in progress.
Where the file cannot be seen (another container, a private /tmp) the state is "unknown" and the sweep falls
back to the owner's pid and the expiry label.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import re
import tempfile
from pathlib import Path
from typing import Literal

log = logging.getLogger(__name__)

RUN_ID = re.compile(r"[0-9a-f]{12}")


def runs_dir() -> Path:
    return Path(tempfile.gettempdir()) / "dockbot-runs"


def _path(run_id: str) -> Path | None:
    return runs_dir() / f"{run_id}.lock" if RUN_ID.fullmatch(run_id or "") else None


class RunLock:
    """Held while a run is in progress; `release(clean=False)` leaves an unlocked marker for the sweep."""

    def __init__(self, path: Path, fd: int):
        self.path, self._fd = path, fd

    @classmethod
    def acquire(cls, run_id: str) -> RunLock | None:
        path = _path(run_id)
        if path is None:
            return None
        try:
            directory = runs_dir()
            if not directory.is_dir():
                directory.mkdir(exist_ok=True)
                os.chmod(
                    directory, 0o1777
                )  # shared like /tmp: the bot and an admin's `dockbot gc` may differ
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:  # a read-only /tmp must not stop demos: liveness falls back to pid + expiry
            log.warning("no run lock for %s: %s", run_id, exc)
            return None
        return cls(path, fd)

    def release(self, *, clean: bool) -> None:
        if clean:
            with contextlib.suppress(OSError):
                self.path.unlink()
        os.close(self._fd)


def run_state(run_id: str) -> Literal["live", "over", "unknown"]:
    """live: a process holds the run's lock · over: the file is there, nobody holds it · unknown: no file."""
    path = _path(run_id)
    if path is None:
        return "unknown"
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return "unknown"
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return "live"
    except OSError:
        return "unknown"
    finally:
        os.close(fd)
    return "over"


def forget(run_id: str) -> None:
    """Remove an abandoned run's marker once its objects are gone (never one that is held)."""
    path = _path(run_id)
    if path is not None and run_state(run_id) == "over":
        with contextlib.suppress(OSError):
            path.unlink()
