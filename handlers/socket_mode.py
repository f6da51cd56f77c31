"""Socket Mode: the connection, and a watchdog that replaces a dead or silently deaf one."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler

from bot.config import Settings
from handlers.messenger import describe_error

log = logging.getLogger("dockbot.slack")


class SocketModeWatchdog:
    """Notices a Socket Mode connection that is dead or silently deaf and replaces it.

    slack_sdk reconnects on close and on missed pongs; this adds what production needs on top: a heartbeat
    file touched only while healthy (for the container HEALTHCHECK), a fresh connection after a long silence
    (sessions that stopped delivering events after a reconnect: bolt-python#1529, python-slack-sdk#1701), and
    giving up with a non-zero exit after repeated failures so the supervisor restarts the process.
    """

    def __init__(
        self,
        handler: SocketModeHandler,
        *,
        heartbeat: Path | None,
        check_every_s: float = 10.0,
        stale_after_s: float = 60.0,
        idle_refresh_s: float = 3600.0,
        max_failures: int = 6,
    ) -> None:
        self.handler = handler
        self.heartbeat = heartbeat
        self.check_every_s = check_every_s
        self.stale_after_s = stale_after_s
        self.idle_refresh_s = idle_refresh_s
        self.max_failures = max_failures
        self.connected_at = time.time()
        self.last_message_at = time.time()
        self.failures = 0
        self.reconnects = 0
        handler.client.on_message_listeners.append(self._on_message)

    def _on_message(self, message: str) -> None:
        self.last_message_at = time.time()

    def last_sign_of_life(self) -> float:
        session = self.handler.client.current_session
        pong = getattr(session, "last_ping_pong_time", None) or 0.0
        return max(self.connected_at, self.last_message_at, pong)

    def check(self) -> bool:
        """One round: True when healthy, otherwise the connection was replaced (or that failed)."""
        now = time.time()
        client = self.handler.client
        silent_for = now - self.last_sign_of_life()
        if not client.is_connected():
            return self._reconnect("not connected")
        if silent_for > self.stale_after_s:
            return self._reconnect(f"no frame or pong for {silent_for:.0f} s")
        if now - max(self.last_message_at, self.connected_at) > self.idle_refresh_s:
            return self._reconnect(f"no envelope for {self.idle_refresh_s:.0f} s: refreshing the session")
        self.failures = 0
        self._touch_heartbeat()
        return True

    def _reconnect(self, reason: str) -> bool:
        log.warning("socket mode: %s; opening a new connection", reason)
        try:
            self.handler.client.connect_to_new_endpoint(force=True)
        except Exception as exc:
            self.failures += 1
            log.error("socket mode: reconnect %d failed: %s", self.failures, describe_error(exc))
            return False
        self.connected_at = time.time()
        self.reconnects += 1
        self.failures = 0
        self._touch_heartbeat()
        return True

    def _touch_heartbeat(self) -> None:
        if self.heartbeat is None:
            return
        try:
            self.heartbeat.touch()
        except OSError as exc:
            log.warning("cannot touch heartbeat file %s: %s", self.heartbeat, exc)

    def run(self, stop: threading.Event) -> int:
        """Check until `stop` is set; returns the exit code (1 when the connection could not be restored)."""
        self._touch_heartbeat()
        while not stop.wait(self.check_every_s):
            self.check()
            if self.failures >= self.max_failures:
                log.error("socket mode: giving up after %d failed reconnects", self.failures)
                return 1
        return 0


def start_socket_mode(app: App, settings: Settings, *, ping_interval: float = 10.0) -> SocketModeHandler:
    """Connect to Slack over Socket Mode (apps.connections.open on SLACK_API_URL, then the websocket)."""
    handler = SocketModeHandler(app, settings.slack_app_token, ping_interval=ping_interval)
    handler.connect()
    return handler
