"""A value that is costly to build from the store (the admins' report, the most asked topics), kept until
the data it reads changes or it is `ttl_s` old, and built by one caller at a time.

The App Home tab opens often (every user, every visit); the full report groups every unanswered question and
took seconds at a few thousand questions. The Brain bumps a generation number whenever it records something
(a question, a vote, a demo) or reloads the knowledge base; the TTL catches what other processes wrote to the
same store (`dockbot demo` on a terminal) and the retention pruning.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class CachedValue(Generic[T]):
    def __init__(
        self,
        build: Callable[[], T],
        *,
        ttl_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.build = build
        self.ttl_s = ttl_s
        self.clock = clock
        self._value: T | None = None
        self._built_at = 0.0
        self._generation = -1
        self._lock = threading.Lock()  # one build at a time; the others wait for it and share it

    def get(self, generation: int) -> T:
        """The value, rebuilt first when `generation` moved on since the last build or it is too old."""
        with self._lock:
            if self._value is None or generation != self._generation or self._age() > self.ttl_s:
                self._value = self.build()
                self._built_at, self._generation = self.clock(), generation
            return self._value

    def _age(self) -> float:
        return self.clock() - self._built_at
