"""Only requests Slack signed get past the HTTP door: a WSGI middleware in front of Bolt's /slack/events.

Slack signs every request: `X-Slack-Signature: v0=<hex HMAC-SHA256(signing secret, "v0:<ts>:<body>")>` with
`X-Slack-Request-Timestamp: <ts>` the Unix time it was sent. This module checks that itself, before Bolt or
any handler sees the request, because a check that can raise is a check that can be skipped (Bolt answered
500 on a timestamp of "²" and then ran its error handler on the unverified body):
- the body is read only when it is at most MAX_BODY_BYTES (Slack's payloads are a few KB): a larger
  Content-Length gets 413 without a byte of the body read; a body without one is read to the limit only;
- the timestamp must be 1-12 ASCII digits and within ±5 minutes of now; the signature exactly `v0=` and 64
  lower-case hex digits, compared with hmac.compare_digest; anything else is 401, never an exception;
- a refusal is one log line with the reason and the peer address (never the body or a header's value), and
  at most REFUSALS_LOGGED_PER_MINUTE of them a minute, so a flood cannot fill the disk.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import logging
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

log = logging.getLogger("dockbot.slack.signature")

MAX_BODY_BYTES = 1024 * 1024
TOLERANCE_S = 300  # Slack's own advice: refuse requests more than five minutes from now
REFUSALS_LOGGED_PER_MINUTE = 20
_TIMESTAMP = re.compile(r"[0-9]{1,12}")  # fullmatch; [0-9], not \d: "²" and "١" are digits to \d
_SIGNATURE = re.compile(r"v0=[0-9a-f]{64}")
_LENGTH = re.compile(r"[0-9]{1,18}")
_READ_CHUNK = 64 * 1024


def slack_signature(secret: str, timestamp: str, body: bytes) -> str:
    """Slack's v0 signature of `body` sent at `timestamp`."""
    base = b"v0:" + timestamp.encode("ascii") + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def signature_matches(secret: str, timestamp: str, body: bytes, signature: str) -> bool:
    """True when `signature` is Slack's signature of `body` at `timestamp` (the age is not checked here)."""
    if not secret or not _TIMESTAMP.fullmatch(timestamp) or not _SIGNATURE.fullmatch(signature):
        return False
    return hmac.compare_digest(slack_signature(secret, timestamp, body), signature)


def refusal_reason(secret: str, timestamp: str, signature: str, body: bytes, *, now: float) -> str | None:
    """Why this request is not Slack's (None: it is): "timestamp", "stale" or "signature"."""
    if not _TIMESTAMP.fullmatch(timestamp):
        return "timestamp"
    if abs(now - int(timestamp)) > TOLERANCE_S:
        return "stale"
    if not signature_matches(secret, timestamp, body, signature):
        return "signature"
    return None


class RefusalLog:
    """One line per refused request, at most `per_minute` a minute; then one line with the rest's count."""

    def __init__(
        self, per_minute: int = REFUSALS_LOGGED_PER_MINUTE, clock: Callable[[], float] = time.monotonic
    ):
        self.per_minute = per_minute
        self.clock = clock
        self.total: Counter[str] = Counter()
        self._window_start = clock()
        self._logged = 0
        self._suppressed: Counter[str] = Counter()
        self._lock = threading.Lock()

    def note(self, status: str, reason: str, peer: str) -> None:
        with self._lock:
            self.total[reason] += 1
            now = self.clock()
            if now - self._window_start >= 60:
                if self._suppressed:
                    counts = ", ".join(f"{r} {n}" for r, n in sorted(self._suppressed.items()))
                    log.warning(
                        "%d more requests refused in the last minute (%s)", self._suppressed.total(), counts
                    )
                self._window_start, self._logged, self._suppressed = now, 0, Counter()
            if self._logged < self.per_minute:
                self._logged += 1
                log.warning("refused a request from %s: %s (%s)", peer, status, reason)
            else:
                self._suppressed[reason] += 1


class SignedRequestGate:
    """WSGI middleware: `app` only ever sees requests with a valid Slack signature and a bounded body."""

    def __init__(
        self,
        app: Callable[..., Iterable[bytes]],
        signing_secret: str,
        *,
        max_body_bytes: int = MAX_BODY_BYTES,
        clock: Callable[[], float] = time.time,
        refusals: RefusalLog | None = None,
    ) -> None:
        self.app = app
        self.signing_secret = signing_secret
        self.max_body_bytes = max_body_bytes
        self.clock = clock
        self.refusals = refusals or RefusalLog()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        body = read_body(environ, self.max_body_bytes)
        if isinstance(body, Refusal):
            return self._refuse(environ, start_response, body)
        reason = refusal_reason(
            self.signing_secret,
            str(environ.get("HTTP_X_SLACK_REQUEST_TIMESTAMP", "")),
            str(environ.get("HTTP_X_SLACK_SIGNATURE", "")),
            body,
            now=self.clock(),
        )
        if reason is not None:
            return self._refuse(environ, start_response, Refusal("401 Unauthorized", reason))
        verified = dict(environ)
        verified["wsgi.input"] = io.BytesIO(body)
        verified["CONTENT_LENGTH"] = str(len(body))
        return self.app(verified, start_response)

    def _refuse(
        self, environ: dict[str, Any], start_response: Callable[..., Any], refusal: Refusal
    ) -> list[bytes]:
        self.refusals.note(refusal.status, refusal.reason, str(environ.get("REMOTE_ADDR") or "-"))
        return plain_response(start_response, refusal.status, refusal.status.split(" ", 1)[1].lower())


class Refusal:
    __slots__ = ("reason", "status")

    def __init__(self, status: str, reason: str) -> None:
        self.status = status
        self.reason = reason


def read_body(environ: dict[str, Any], limit: int) -> bytes | Refusal:
    """The request body, or a Refusal when it is larger than `limit` (checked before reading) or malformed."""
    stream = environ.get("wsgi.input")
    length_text = str(environ.get("CONTENT_LENGTH") or "").strip()
    if length_text:
        if not _LENGTH.fullmatch(length_text):
            return Refusal("400 Bad Request", "content-length")
        length = int(length_text)
        if length > limit:
            return Refusal("413 Content Too Large", "too large")
        body = _read(stream, length)
        if len(body) != length:
            return Refusal("400 Bad Request", "truncated body")
        return body
    if environ.get(
        "wsgi.input_terminated"
    ):  # a server that de-chunks and ends the stream (PEP 3333 extension)
        body = _read(stream, limit + 1)
        return Refusal("413 Content Too Large", "too large") if len(body) > limit else body
    return b""  # no Content-Length: no body (PEP 3333)


def _read(stream: Any, size: int) -> bytes:
    parts: list[bytes] = []
    left = size
    while stream is not None and left > 0:
        chunk = stream.read(min(left, _READ_CHUNK))
        if not chunk:
            break
        parts.append(chunk)
        left -= len(chunk)
    return b"".join(parts)


def plain_response(start_response: Callable[..., Any], status: str, text: str) -> list[bytes]:
    body = text.encode()
    start_response(
        status, [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))]
    )
    return [body]
