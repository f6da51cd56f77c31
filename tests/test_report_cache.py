"""bot/report_cache.py: rebuilt on new data or when too old, one build shared by concurrent callers."""

from __future__ import annotations

import threading
import time

from bot.report_cache import CachedValue


def test_rebuilt_on_new_data_or_after_the_ttl() -> None:
    now = [0.0]
    built: list[int] = []
    cache = CachedValue(lambda: built.append(1) or len(built), ttl_s=60, clock=lambda: now[0])
    assert [cache.get(0), cache.get(0), cache.get(0)] == [1, 1, 1]
    assert cache.get(1) == 2  # new data
    now[0] = 59.0
    assert cache.get(1) == 2
    now[0] = 61.0
    assert cache.get(1) == 3  # too old


def test_concurrent_callers_share_one_build() -> None:
    built: list[int] = []

    def slow() -> int:
        time.sleep(0.2)
        built.append(1)
        return len(built)

    cache = CachedValue(slow)
    results: list[int] = []
    threads = [threading.Thread(target=lambda: results.append(cache.get(7))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [1] * 8 and len(built) == 1
