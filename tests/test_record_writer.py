"""RecordWriter (bot/record_writer.py): the queue between replies and the database. Logic above the store, so
the writes here are plain functions that fail or succeed when the test says."""

from __future__ import annotations

import logging
import threading

from bot.record_writer import RecordWriter


def test_a_failing_write_is_retried_in_order_until_it_succeeds():
    allowed = threading.Event()
    written: list[int] = []

    def write(n: int):
        def attempt() -> bool:
            if not allowed.is_set():
                return False  # e.g. SQLite locked by another process
            written.append(n)
            return True

        return attempt

    writer = RecordWriter()
    try:
        assert all(writer.submit("question", write(n)) for n in range(5))
        assert not writer.flush(0.3) and writer.pending() == 5
        allowed.set()
        assert writer.flush(10)
        assert written == [0, 1, 2, 3, 4] and writer.written == 5 and writer.dropped == 0
    finally:
        writer.close()


def test_a_full_queue_drops_new_records_with_one_log_line(caplog):
    gate = threading.Event()
    writer = RecordWriter(max_pending=3)
    try:
        with caplog.at_level(logging.WARNING, logger="bot.record_writer"):
            results = [writer.submit("question", lambda: gate.wait(10)) for _ in range(10)]
        # The writer may have taken the first record off the queue already: 3 or 4 accepted.
        assert results[:3] == [True] * 3 and results.count(False) in (6, 7)
        drops = [r for r in caplog.records if "dropping new ones" in r.getMessage()]
        assert len(drops) == 1
        gate.set()
        assert writer.flush(10)
        assert writer.dropped == results.count(False)
    finally:
        writer.close()


def test_a_record_that_never_succeeds_is_given_up_and_does_not_block_the_rest(caplog):
    written: list[str] = []
    writer = RecordWriter(give_up_after_s=0.3)
    try:
        with caplog.at_level(logging.WARNING, logger="bot.record_writer"):
            writer.submit("vote", lambda: False)
            writer.submit("question", lambda: written.append("q") or True)
            assert writer.flush(10)
        assert written == ["q"] and writer.dropped == 1
        assert any("dropped a vote" in r.getMessage() for r in caplog.records)
    finally:
        writer.close()


def test_a_write_that_raises_is_logged_and_retried(caplog):
    attempts: list[int] = []

    def flaky() -> bool:
        attempts.append(1)
        if len(attempts) < 3:
            raise RuntimeError("boom")
        return True

    writer = RecordWriter()
    try:
        with caplog.at_level(logging.WARNING, logger="bot.record_writer"):
            writer.submit("demo audit", flaky)
            assert writer.flush(10)
        assert len(attempts) == 3 and writer.written == 1
        assert any("RuntimeError" in r.getMessage() for r in caplog.records)
    finally:
        writer.close()


def test_a_read_for_a_reply_does_not_wait_while_writes_keep_failing():
    """A full disk or a lock held by another process: reads made for a reply give up waiting at once
    (the CI failure this fixes: every threaded question waited 2 s, and /docker missed its ack window)."""
    import time

    allowed = threading.Event()
    failures = threading.Semaphore(0)

    def attempt() -> bool:
        if allowed.is_set():
            return True
        failures.release()
        return False

    writer = RecordWriter()
    try:
        writer.submit("question", attempt)
        assert failures.acquire(timeout=10) and writer.retrying
        started = time.monotonic()
        assert not writer.flush(60, unless_retrying=True)
        assert time.monotonic() - started < 30  # gave up rather than wait the 60 s it was given
        assert writer.pending() == 1  # nothing was lost
        allowed.set()
        assert writer.flush(10) and not writer.retrying and writer.written == 1
    finally:
        writer.close()
