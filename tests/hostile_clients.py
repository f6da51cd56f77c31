"""Clients a hostile network has: huge uploads, floods of idle and half-sent connections (loopback only).

Used by tests/reliability/test_security_bodies.py, test_security_flood.py and bench/bench_slack.py.
"""

from __future__ import annotations

import resource
import socket
import threading
import time
from collections.abc import Callable

import requests
from slack_harness import sign

BIG = 20_000_000
# What the flood connections send before going silent: nothing, half a request line, half the headers,
# full headers and half the body.
PARTIAL = [
    b"",
    b"POST /slack/events HT",
    b"POST /slack/events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: applic",
    b"POST /slack/events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    b'Content-Length: 5000\r\n\r\n{"type": "event_callback", ',
]


def big_upload(port: int, *, chunked: bool, signed: bool, size: int = BIG) -> dict[str, int]:
    """Send a `size`-byte body (announced or chunked) as fast as the server takes it.
    Returns {"status": the HTTP status read back (0: none), "sent": body bytes the socket accepted}."""
    head = [b"POST /slack/events HTTP/1.1", b"Host: 127.0.0.1", b"Content-Type: application/json"]
    if signed:  # signed for some other body: only the timestamp looks right
        head += [f"{k}: {v}".encode() for k, v in sign("{}").items()]
    head.append(b"Transfer-Encoding: chunked" if chunked else f"Content-Length: {size}".encode())
    piece = b"x" * 65536
    sent = 0
    reply = b""
    with socket.create_connection(("127.0.0.1", port), timeout=20) as conn:
        try:
            conn.sendall(b"\r\n".join(head) + b"\r\n\r\n")
            while sent < size:
                conn.sendall(b"10000\r\n" + piece + b"\r\n" if chunked else piece)
                sent += len(piece)
            if chunked:
                conn.sendall(b"0\r\n\r\n")
        except OSError:
            pass  # the server answered and closed while we were still sending: expected
        try:
            while b"\r\n" not in reply:
                chunk = conn.recv(4096)
                if not chunk:
                    break
                reply += chunk
        except OSError:
            pass
    return {"status": int(reply.split()[1]) if reply.startswith(b"HTTP/") else 0, "sent": sent}


def peak_rss_during(rss_kib: Callable[[], int], work: Callable[[], None]) -> tuple[int, int]:
    """(baseline, peak) RSS in KiB of a process while `work` runs, sampled every 20 ms."""
    baseline = rss_kib()
    peak = [baseline]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak.append(rss_kib())
            time.sleep(0.02)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        work()
    finally:
        done.set()
        sampler.join()
    return baseline, max(peak)


def raise_own_file_limit(wanted: int) -> tuple[int, int] | None:
    """Raise this process's soft RLIMIT_NOFILE to `wanted`; returns the old limits (None if impossible)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < wanted:
        return None
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, wanted), hard))
    return soft, hard


def open_flood(port: int, count: int) -> list[socket.socket]:
    """`count` connections that each send a piece of PARTIAL (or nothing) and then stay silent."""
    flood = []
    for i in range(count):
        conn = socket.create_connection(("127.0.0.1", port), timeout=5)
        if PARTIAL[i % len(PARTIAL)]:
            conn.sendall(PARTIAL[i % len(PARTIAL)])
        flood.append(conn)
    return flood


def healthy(base_url: str) -> bool:
    try:
        return requests.get(base_url + "/healthz", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def shed(conn: socket.socket) -> bool:
    """True when the server closed this connection (EOF, reset, or an error response then EOF)."""
    conn.setblocking(False)
    try:
        while True:
            data = conn.recv(65536)
            if not data:
                return True
    except BlockingIOError:
        return False
    except OSError:
        return True
