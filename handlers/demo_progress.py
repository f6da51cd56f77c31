"""Live demo progress in one Slack message: post it, then edit it as steps finish, within Slack's limits.

chat.update is Tier 3 (~50 per minute per workspace), so edits are throttled and coalesced: at most one edit
per message per `min_interval_s`, and all messages share a workspace-wide budget (`EditPacer`). A step that
finishes while an edit is pending is folded into it; the final result is always sent. A message posted
through a response_url (the bot is not in the channel) has only 5 uses: intermediate edits are skipped so
the last use is kept for the final result.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from handlers.views import Message

log = logging.getLogger("dockbot.handlers.demo")


class EditPacer:
    """A token bucket shared by every live message: the workspace-wide chat.update budget."""

    def __init__(
        self, per_minute: float = 45.0, burst: int = 10, clock: Callable[[], float] = time.monotonic
    ):
        self._rate = per_minute / 60.0
        self._burst = float(burst)
        self._tokens = float(burst)
        self._clock = clock
        self._stamp = clock()
        self._lock = threading.Lock()

    def reserve(self) -> float:
        """Take one edit slot; returns how long to wait before using it (0 when one is free now)."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self._burst, self._tokens + (now - self._stamp) * self._rate)
            self._stamp = now
            self._tokens -= 1.0
            return 0.0 if self._tokens >= 0 else -self._tokens / self._rate


class DemoProgress:
    """Owns one live demo message. `on_progress` and `finish` are called from the demo's worker thread."""

    def __init__(
        self,
        messenger: Any,
        render: Callable[[Any], Message],
        *,
        channel: str,
        user: str,
        thread_ts: str | None = None,
        response_url: str | None = None,
        pacer: EditPacer,
        min_interval_s: float = 1.0,
        on_finished: Callable[[Any], None] | None = None,
        on_crash: Callable[[Any], Any] | None = None,
    ) -> None:
        self._messenger = messenger
        self._render = render
        self._channel = channel
        self._user = user
        self._thread_ts = thread_ts
        self._response_url = response_url
        self._pacer = pacer
        self._min_interval = min_interval_s
        self._on_finished = on_finished
        self._on_crash = on_crash  # (the run so far or None) -> a finished, failed run to show
        self._lock = threading.Lock()
        self._posted: Any = None
        self._run: Any = None
        self._version = 0  # bumped by every progress report
        self._sent_version = 0
        self._final = False
        self._flush_pending = False
        self._last_edit = 0.0
        self.done = threading.Event()

    def start(self) -> bool:
        """Post the message (showing whatever progress already arrived). False when it could not be posted."""
        with self._lock:
            run, self._sent_version = self._run, self._version
        message = self._render(run)
        posted = self._messenger.post(
            channel=self._channel,
            user=self._user,
            text=message.text,
            blocks=message.blocks,
            thread_ts=self._thread_ts,
            response_url=self._response_url,
        )
        with self._lock:
            self._posted = posted
            self._last_edit = time.monotonic()
        self._schedule()
        return posted is not None

    def on_progress(self, run: Any) -> None:
        with self._lock:
            self._run = run
            self._version += 1
        self._schedule()

    def finish(self, future: Future[Any]) -> None:
        """Done-callback of the demo's future: the final edit, whatever happened."""
        try:
            run = future.result()
        except Exception as exc:
            log.error(
                "demo run failed for user=%s channel=%s: %s", self._user, self._channel, exc, exc_info=exc
            )
            with self._lock:
                so_far = self._run
            run = self._on_crash(so_far) if self._on_crash is not None else so_far
        with self._lock:
            self._run = run
            self._final = True
            self._version += 1
        if self._on_finished is not None:
            try:
                self._on_finished(run)
            except Exception:
                log.exception("demo finish hook failed")
        self._schedule()

    def _schedule(self) -> None:
        with self._lock:
            if self._flush_pending or (self._posted is None and not self._final):
                return
            if self._version == self._sent_version:
                return
            edits_left = self._posted.edits_left if self._posted is not None else None
            if not self._final and edits_left is not None and edits_left <= 1:
                return  # keep the last response_url use for the final result
            self._flush_pending = True
            wait = max(self._last_edit + self._min_interval - time.monotonic(), 0.0)
        wait = max(wait, self._pacer.reserve())
        timer = threading.Timer(wait, self._flush)
        timer.daemon = True
        timer.start()

    def _flush(self) -> None:
        with self._lock:
            run, version, final, posted = self._run, self._version, self._final, self._posted
        message = self._render(run)
        if posted is not None:
            delivered = self._messenger.update(posted, text=message.text, blocks=message.blocks)
        else:
            delivered = False
        if final and not delivered:
            # The live message is gone or could not be edited: the result still reaches the channel.
            delivered = (
                self._messenger.post(
                    channel=self._channel,
                    user=self._user,
                    text=message.text,
                    blocks=message.blocks,
                    thread_ts=self._thread_ts,
                    response_url=self._response_url,
                )
                is not None
            )
        with self._lock:
            self._flush_pending = False
            self._sent_version = version
            self._last_edit = time.monotonic()
        if final and version == self._version:
            self.done.set()
            return
        self._schedule()
