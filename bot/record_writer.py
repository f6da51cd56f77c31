"""Records (questions, votes, the demo audit) written after the reply, by one writer thread.

The reply never waits for the database: a door hands the record over (`submit`, a non-blocking put into a
bounded queue) and answers. The writer retries a record whose write failed (SQLite locked by another
process, PostgreSQL restarting) with a growing pause, in order, so a lock held for seconds delays records,
never replies, and loses none. What cannot be kept is dropped with one log line per burst: a full queue
(MAX_PENDING records waiting: the database has been gone for a long time) or a record that kept failing for
GIVE_UP_AFTER_S (a write that can never succeed must not block the ones behind it forever).
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)

MAX_PENDING = 10_000
GIVE_UP_AFTER_S = 600.0
FIRST_PAUSE_S = 0.1
MAX_PAUSE_S = 5.0


@dataclass
class _Record:
    action: str
    write: Callable[[], object]  # returns something falsy when the write did not happen
    queued_at: float


class RecordWriter:
    """A bounded queue drained by one daemon thread; `write()` results that are falsy are retried."""

    def __init__(
        self,
        *,
        name: str = "store-writer",
        max_pending: int = MAX_PENDING,
        give_up_after_s: float = GIVE_UP_AFTER_S,
    ) -> None:
        self._queue: queue.Queue[_Record | None] = queue.Queue(maxsize=max_pending)
        self._give_up_after_s = give_up_after_s
        self._idle = threading.Condition()
        self._busy = 0  # records taken from the queue and not yet written or dropped
        self._retrying = False  # the record in hand failed at least once (database locked, full, gone)
        self._dropped_in_burst = 0
        self._stop = threading.Event()
        self.written = 0
        self.dropped = 0
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, action: str, write: Callable[[], object]) -> bool:
        """Queue one record; False (and one log line per burst) when the queue is full."""
        with self._idle:
            try:
                self._queue.put_nowait(_Record(action, write, time.monotonic()))
            except queue.Full:
                self.dropped += 1
                self._dropped_in_burst += 1
                if self._dropped_in_burst == 1:
                    log.warning(
                        "store: %d records are waiting; dropping new ones until it drains",
                        self._queue.maxsize,
                    )
                return False
            self._busy += 1
        return True

    def pending(self) -> int:
        with self._idle:
            return self._busy

    @property
    def retrying(self) -> bool:
        """True while a write keeps failing: waiting for the queue to drain would wait for the retries."""
        return self._retrying

    def flush(self, timeout: float, *, unless_retrying: bool = False) -> bool:
        """Wait until everything submitted so far is written (or dropped); False on timeout.

        `unless_retrying`: give up at once (False) while the writer is retrying a failed write, e.g. a read
        made for a reply, which must not wait for a database that is full or locked by another process."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._busy:
                if unless_retrying and self._retrying:
                    return False
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._idle.wait(left)
        return True

    def close(self, timeout: float = 5.0) -> None:
        """Write what is pending for at most `timeout` seconds, then stop the thread."""
        self.flush(timeout)
        self._stop.set()
        with contextlib.suppress(queue.Full):  # a full queue: the thread sees _stop after this record
            self._queue.put_nowait(None)
        self._thread.join(timeout=1.0)
        left = self.pending()
        if left:
            log.warning("store: %d records not written at shutdown (database unavailable)", left)

    def _run(self) -> None:
        while True:
            record = self._queue.get()
            if record is None or self._stop.is_set():
                return
            self._write(record)
            with self._idle:
                self._busy -= 1
                if not self._busy:
                    self._idle.notify_all()
                    if self._dropped_in_burst:
                        log.info("store: caught up (%d records were dropped)", self._dropped_in_burst)
                        self._dropped_in_burst = 0

    def _write(self, record: _Record) -> None:
        pause = FIRST_PAUSE_S
        while not self._stop.is_set():
            try:
                if record.write():
                    self.written += 1
                    self._retrying = False
                    return
            except Exception as exc:  # the store swallows its own failures; anything else is a bug to log
                log.warning("store: writing a %s raised %s: %s", record.action, type(exc).__name__, exc)
            with self._idle:  # wakes readers waiting in flush(unless_retrying=True)
                self._retrying = True
                self._idle.notify_all()
            if time.monotonic() - record.queued_at > self._give_up_after_s:
                self.dropped += 1
                self._retrying = False
                log.warning(
                    "store: dropped a %s after %.0f s of failed writes",
                    record.action,
                    time.monotonic() - record.queued_at,
                )
                return
            self._stop.wait(pause)
            pause = min(pause * 2, MAX_PAUSE_S)
