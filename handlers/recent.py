"""A bounded, thread-safe set of recently seen keys with a time to live: answering each Slack event once.

Slack delivers events at least once and retries after ~0 s, 1 min and 5 min (X-Slack-Retry-Num), so the TTL
must exceed 5 minutes. This set lives in one process: with several replicas behind one app, they would need a
shared store with an atomic "set if absent" (e.g. Redis SET NX EX, or a UNIQUE row in a shared database).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable

DEFAULT_TTL_S = 15 * 60


class RecentKeys:
    def __init__(
        self,
        ttl_s: float = DEFAULT_TTL_S,
        max_keys: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ttl = ttl_s
        self._max = max_keys
        self._clock = clock
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def first_time(self, key: str) -> bool:
        """True exactly once per key within the TTL (marks the key as seen atomically)."""
        now = self._clock()
        with self._lock:
            self._expire(now)
            if key in self._seen:
                return False
            self._seen[key] = now
            if len(self._seen) > self._max:
                self._seen.popitem(last=False)
            return True

    def __len__(self) -> int:
        with self._lock:
            return len(self._seen)

    def _expire(self, now: float) -> None:
        while self._seen:
            key, seen_at = next(iter(self._seen.items()))
            if now - seen_at < self._ttl:
                break
            del self._seen[key]
