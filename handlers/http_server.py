"""The HTTP server of `dockbot serve` (HTTP mode): waitress, set up for a hostile network.

Why waitress (not wsgiref, not gunicorn): its event loop reads each request (headers and body, up to the
body limit) before a worker thread sees it, so an idle or half-sent connection costs one socket and a few KB,
never a thread; it has an inactivity timeout, a connection cap and header/body limits as plain settings; it
is pure Python, maintained by the Pylons project, and runs in the one process that also owns the demo
service and the knowledge watcher. gunicorn's gthread worker reads the request in the worker thread (a
stalled client holds a thread) and forks workers, which would each run their own demos and watchers.

What each setting buys (`HttpLimits`):
- `idle_timeout_s`: a connection with no request in progress and no byte received for this long is closed:
  idle and half-sent connections (headers or body stopped mid-way) are shed within seconds;
- `connection_limit`: never more open connections than the process has file descriptors to spare
  (RLIMIT_NOFILE minus a reserve for the database, Docker, the Web API and logs); beyond it the server stops
  accepting until connections close, instead of failing accept() with EMFILE;
- `max_body_bytes`: a body over the limit is refused with 413 by the server itself, from its Content-Length
  before reading it, or as soon as a chunked body passes it (handlers/signature.py checks again);
- no `Server:` header (nothing about the software or the Python version).
"""

from __future__ import annotations

import logging
import resource
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from waitress.server import create_server

from bot.config import Settings
from handlers.signature import MAX_BODY_BYTES

log = logging.getLogger("dockbot.http")

# File descriptors kept free for everything but client connections: SQLite (+WAL, SHM), Docker API
# connections, Web API calls of up to 16 listener threads and the demo workers, logs, the knowledge watcher.
RESERVED_FDS = 128
MAX_CONNECTIONS = 1000
IDLE_TIMEOUT_S = 4  # whole seconds (waitress's channel_timeout)
THREADS = 8
MAX_HEADER_BYTES = 32 * 1024  # Slack's request headers are well under 4 KB


def connection_limit(wanted: int = MAX_CONNECTIONS, *, open_files: int | None = None) -> int:
    """How many client connections this process can hold open, given its file descriptor limit."""
    if open_files is None:
        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        open_files = soft if soft != resource.RLIM_INFINITY else 1 << 20
    return max(16, min(wanted, open_files - RESERVED_FDS))


@dataclass(frozen=True)
class HttpLimits:
    max_body_bytes: int = MAX_BODY_BYTES
    max_header_bytes: int = MAX_HEADER_BYTES
    idle_timeout_s: int = IDLE_TIMEOUT_S
    connection_limit: int = MAX_CONNECTIONS
    threads: int = THREADS

    @classmethod
    def from_settings(cls, settings: Settings) -> HttpLimits:
        """DOCKBOT_HTTP_THREADS and DOCKBOT_HTTP_MAX_CONNECTIONS (capped by the file descriptor limit)."""
        return cls(
            threads=settings.http_threads or THREADS,
            connection_limit=connection_limit(settings.http_max_connections or MAX_CONNECTIONS),
        )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> HttpLimits:
        """The limits of the settings this environment gives (ConfigError naming a malformed variable)."""
        return cls.from_settings(Settings.from_env(env))

    def waitress_options(self) -> dict[str, Any]:
        return {
            "threads": self.threads,
            "connection_limit": self.connection_limit,
            "channel_timeout": self.idle_timeout_s,
            "cleanup_interval": 1,  # how often idle connections are looked for
            "max_request_body_size": self.max_body_bytes,
            "max_request_header_size": self.max_header_bytes,
            # A body up to the limit stays in memory: no temporary file (and file descriptor) per upload.
            "inbuf_overflow": self.max_body_bytes + 1,
            "backlog": 2048,  # connections waiting while the cap is reached wait in the kernel, not here
            "asyncore_use_poll": True,  # select() cannot watch descriptors above 1023
            "ident": "",  # no Server: header
            "expose_tracebacks": False,
            "clear_untrusted_proxy_headers": True,
        }


class HttpServer:
    """waitress serving one WSGI application; `shutdown()` may be called from any thread."""

    def __init__(
        self,
        application: Callable[..., Iterable[bytes]],
        *,
        host: str = "0.0.0.0",
        port: int = 3000,
        limits: HttpLimits | None = None,
    ) -> None:
        self.limits = limits or HttpLimits(connection_limit=connection_limit())
        self._map: dict[int, Any] = {}  # every socket of this server: listener, trigger, connections
        # One line per request that waits for a thread is noise under any burst (and a log amplifier
        # under attack); the wait shows in the ack latency instead (bench/bench_slack.py).
        logging.getLogger("waitress.queue").setLevel(logging.ERROR)
        # One host:port gives a TcpWSGIServer; the stubs miss its effective_port and the trigger's type.
        self.server: Any = create_server(
            application, map=self._map, host=host, port=port, **self.limits.waitress_options()
        )

    @property
    def port(self) -> int:
        return int(self.server.effective_port)

    def serve_forever(self) -> None:
        try:
            self.server.run()
        finally:
            self.server.task_dispatcher.shutdown()

    def shutdown(self) -> None:
        """Stop serving: every socket is closed from the server's own loop, which then returns. Safe to call
        twice, or after the loop already closed its sockets (its trigger is then gone too)."""
        try:
            self.server.trigger.pull_trigger(self._close_all)
        except OSError:  # EBADF: the trigger (and so every socket) is already closed
            log.debug("HTTP server already stopped")

    def _close_all(self) -> None:
        for dispatcher in list(self._map.values()):
            dispatcher.close()
