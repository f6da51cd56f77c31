"""A local stand-in for Slack, to drive the real Bolt app the way Slack does.

- `FakeSlack`: a fake Slack Web API on 127.0.0.1 (point SLACK_API_URL at `.api_url`) that records every call
  (auth.test, chat.postMessage, chat.update, chat.postEphemeral, views.publish, conversations.open, …), the
  response_url posts (`.response_url(name)`), and a Socket Mode websocket server that apps.connections.open
  hands out: `.push(...)` sends an envelope, acks are recorded, `.freeze()` makes connections silently dead.
  Failures can be injected per method and channel (`fail`), and 429s with Retry-After (`rate_limit`).
- Signed requests: `sign`, `event_body`, `command_form`, `action_form`, and `SlackSender` posting them to a
  running app exactly as Slack does (x-slack-signature, x-slack-request-timestamp, retries with
  X-Slack-Retry-Num).
- `DockbotProcess`: `dockbot serve` in HTTP mode as a real subprocess on a free port.
- `InProcessServer`: the same app and HTTP server in this process (for benchmarks and Socket Mode tests).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from aiohttp import WSMsgType, web

REPO = Path(__file__).resolve().parent.parent
# The real knowledge base (a developer may point DOCKBOT_KNOWLEDGE_DIR at another copy).
KNOWLEDGE_DIR = Path(os.environ.get("DOCKBOT_KNOWLEDGE_DIR") or REPO / "knowledge")
SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
BOT_TOKEN = "xoxb-1111-2222-dockbottest"
APP_TOKEN = "xapp-1-A111-2222-dockbottest"
BOT_USER_ID = "UBOT0001"
BOT_ID = "BBOT0001"
TEAM_ID = "T0000001"


def _permalink(channel: object, ts: str) -> str:
    """The address Slack gives a message (chat.getPermalink)."""
    return f"https://dockbot-test.slack.com/archives/{channel}/p{ts.replace('.', '')}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Call:
    method: str  # Web API method, or "response_url:<name>"
    params: dict[str, Any]
    token: str = ""
    at: float = field(default_factory=time.monotonic)
    result: dict[str, Any] = field(default_factory=dict)  # what the fake answered (e.g. the new message ts)

    @property
    def channel(self) -> str:
        return str(self.params.get("channel") or "")

    @property
    def all_text(self) -> str:
        """Every string the message would show (fallback text and blocks), for content checks."""
        return json.dumps(
            {"text": self.params.get("text"), "blocks": self.params.get("blocks")}, ensure_ascii=False
        )


class FakeSlack:
    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.acks: list[dict[str, Any]] = []
        self.connections_opened = 0
        self.pongs = 0  # pings answered on any socket
        self.fail: dict[tuple[str, str], str] = {}  # (method, channel or "*") -> Slack error code
        self.rate_limit: dict[str, int] = {}  # method -> how many 429s to answer before succeeding
        self.retry_after_s = 1
        self._lock = threading.Lock()
        self._ts = itertools.count(1)
        self._envelopes = itertools.count(1)
        self._sockets: list[web.WebSocketResponse] = []
        self._frozen_ids: set[int] = set()
        self._thawed = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self.port = 0

    # ---- lifecycle -------------------------------------------------------------------------------
    def start(self) -> FakeSlack:
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            app = web.Application()
            app.router.add_post("/api/{method}", self._api)
            app.router.add_post("/response/{name}", self._response_url)
            app.router.add_get("/link", self._websocket)
            self._runner = web.AppRunner(app, access_log=None)
            loop.run_until_complete(self._runner.setup())
            site = web.TCPSite(self._runner, "127.0.0.1", 0)
            loop.run_until_complete(site.start())
            self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            ready.set()
            loop.run_forever()

        threading.Thread(target=run, name="fake-slack", daemon=True).start()
        if not ready.wait(10):
            raise RuntimeError("fake Slack did not start")
        return self

    def stop(self) -> None:
        if self._loop is None:
            return

        async def shutdown() -> None:
            for ws in list(self._sockets):
                await ws.close()
            if self._runner is not None:
                await self._runner.cleanup()

        asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"

    def response_url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/response/{name}"

    # ---- recorded calls --------------------------------------------------------------------------
    def calls_of(self, method: str, channel: str | None = None) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.method == method and (channel is None or c.channel == channel)]

    def calls_in(self, channel: str) -> list[Call]:
        """Every message-sending call for `channel` (incl. response_url posts made for it by name)."""
        with self._lock:
            return [c for c in self.calls if c.channel == channel or c.method == f"response_url:{channel}"]

    def wait_for(self, predicate: Callable[[], Any], timeout: float = 15.0, what: str = "") -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(0.02)
        raise AssertionError(
            f"timed out after {timeout} s waiting for {what or predicate}; calls: {self.summary()}"
        )

    def summary(self) -> list[str]:
        with self._lock:
            return [f"{c.method}({c.channel})" for c in self.calls[-40:]]

    def _record(self, call: Call) -> None:
        with self._lock:
            self.calls.append(call)

    # ---- Web API ---------------------------------------------------------------------------------
    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params: dict[str, Any] = dict(request.query)
        if request.content_type == "application/json":
            params.update(await request.json())
        else:
            params.update(dict(await request.post()))
        for key in ("blocks", "attachments", "view"):
            if isinstance(params.get(key), str):
                with contextlib.suppress(ValueError):
                    params[key] = json.loads(params[key])
        token = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        call = Call(method, params, token)
        self._record(call)
        with self._lock:
            limited = self.rate_limit.get(method, 0)
            if limited:
                self.rate_limit[method] = limited - 1
        if limited:
            return web.json_response(
                {"ok": False, "error": "ratelimited"},
                status=429,
                headers={"Retry-After": str(self.retry_after_s)},
            )
        if method == "apps.connections.open":
            if not token.startswith("xapp-") or "invalid" in token:
                return web.json_response({"ok": False, "error": "invalid_auth"})
            with self._lock:
                self.connections_opened += 1
                n = self.connections_opened
            return web.json_response({"ok": True, "url": f"ws://127.0.0.1:{self.port}/link?n={n}"})
        if not token.startswith("xoxb-") or "invalid" in token:
            return web.json_response({"ok": False, "error": "invalid_auth"})
        channel = str(params.get("channel") or "")
        error = self.fail.get((method, channel)) or self.fail.get((method, "*"))
        if error:
            return web.json_response({"ok": False, "error": error})
        call.result = self._answer(method, params)
        return web.json_response(call.result)

    def _answer(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        if method == "auth.test":
            return {
                "ok": True,
                "url": "https://dockbot-test.slack.com/",
                "team": "test",
                "user": "dockbot",
                "team_id": TEAM_ID,
                "user_id": BOT_USER_ID,
                "bot_id": BOT_ID,
                "is_enterprise_install": False,
            }
        if method in ("chat.postMessage", "chat.update"):
            ts = params.get("ts") or f"1700000000.{next(self._ts):06d}"
            return {
                "ok": True,
                "channel": params.get("channel"),
                "ts": ts,
                "message": {"text": params.get("text")},
            }
        if method == "chat.postEphemeral":
            return {"ok": True, "message_ts": f"1700000000.{next(self._ts):06d}"}
        if method == "conversations.open":
            return {"ok": True, "channel": {"id": "D" + str(params.get("users", "U")).split(",")[0][1:]}}
        if method == "chat.getPermalink":
            channel, ts = params.get("channel"), str(params.get("message_ts") or "")
            return {"ok": True, "channel": channel, "permalink": _permalink(channel, ts)}
        if method == "views.publish":
            return {"ok": True, "view": {"id": "V1"}}
        return {"ok": True}

    async def _response_url(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        body = await request.json()
        self._record(Call(f"response_url:{name}", body))
        return web.Response(text="ok")

    # ---- Socket Mode -----------------------------------------------------------------------------
    async def _websocket(self, request: web.Request) -> web.WebSocketResponse:
        # autoping off: this server answers pings itself, so freeze() can make it silently dead.
        ws = web.WebSocketResponse(autoping=False)
        await ws.prepare(request)
        self._sockets.append(ws)
        await ws.send_str(
            json.dumps({"type": "hello", "num_connections": 1, "connection_info": {"app_id": "A1"}})
        )
        try:
            while not ws.closed:
                if id(ws) in self._frozen_ids:
                    await self._thawed.wait()  # silently dead: no pongs, no reads, nothing closes
                msg = await ws.receive()
                if msg.type == WSMsgType.PING:
                    with contextlib.suppress(ConnectionError):  # the client may be closing this socket
                        await ws.pong(msg.data)
                        self.pongs += 1
                elif msg.type == WSMsgType.TEXT:
                    with self._lock:
                        self.acks.append(json.loads(msg.data))
                elif msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR):
                    break
        finally:
            if ws in self._sockets:
                self._sockets.remove(ws)
            self._frozen_ids.discard(id(ws))
        return ws

    @property
    def open_sockets(self) -> int:
        return len(self._sockets)

    def push(self, kind: str, payload: dict[str, Any], *, retry_attempt: int = 0) -> str:
        """Send one Socket Mode envelope (events_api, slash_commands, interactive) on the newest socket."""
        envelope_id = f"env-{next(self._envelopes)}"
        envelope = {
            "envelope_id": envelope_id,
            "type": kind,
            "payload": payload,
            "accepts_response_payload": kind != "events_api",
            "retry_attempt": retry_attempt,
            "retry_reason": "timeout" if retry_attempt else "",
        }
        assert self._loop is not None and self._sockets, "no Socket Mode connection"
        ws = self._sockets[-1]
        asyncio.run_coroutine_threadsafe(ws.send_str(json.dumps(envelope)), self._loop).result(5)
        return envelope_id

    def send_raw(self, message: dict[str, Any]) -> None:
        """Send a non-envelope frame (e.g. Slack's {"type": "disconnect", "reason": "refresh_requested"})."""
        assert self._loop is not None and self._sockets, "no Socket Mode connection"
        ws = self._sockets[-1]
        asyncio.run_coroutine_threadsafe(ws.send_str(json.dumps(message)), self._loop).result(5)

    def acked(self, envelope_id: str) -> bool:
        with self._lock:
            return any(a.get("envelope_id") == envelope_id for a in self.acks)

    def freeze(self) -> None:
        """Make the open connections silently dead (TCP stays open; no pongs, nothing delivered).
        Connections opened afterwards work normally."""
        assert self._loop is not None

        def make() -> None:
            self._thawed = asyncio.Event()
            self._frozen_ids.update(id(ws) for ws in self._sockets)

        self._loop.call_soon_threadsafe(make)

    def thaw(self) -> None:
        assert self._loop is not None

        def release() -> None:
            self._frozen_ids.clear()
            self._thawed.set()

        self._loop.call_soon_threadsafe(release)


class ConnectionRecorder:
    """A bare TCP listener standing in for a URL the bot must never fetch (an attacker's response_url):
    records every connection it accepts and the first bytes sent on it."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.received: list[bytes] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, name="connection-recorder", daemon=True)

    def start(self) -> ConnectionRecorder:
        self._thread.start()
        return self

    def url(self, path: str = "hook") -> str:
        return f"http://127.0.0.1:{self.port}/{path}"

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(1.0)
                try:
                    data = conn.recv(4096)
                except OSError:
                    data = b""
                self.received.append(data)
                with contextlib.suppress(OSError):
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.sock.close()


# ---- signed requests -------------------------------------------------------------------------------


def sign(body: str, *, secret: str = SIGNING_SECRET, timestamp: int | None = None) -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}"}


_event_ids = itertools.count(1)
_message_ts = itertools.count(1)


def new_ts() -> str:
    return f"1710000000.{next(_message_ts):06d}"


def event_body(event: dict[str, Any], *, event_id: str | None = None) -> dict[str, Any]:
    return {
        "token": "legacy-verification-token",
        "team_id": TEAM_ID,
        "api_app_id": "A0000001",
        "event": event,
        "type": "event_callback",
        "event_id": event_id or f"Ev{next(_event_ids):08d}",
        "event_time": int(time.time()),
        "authorizations": [
            {"team_id": TEAM_ID, "user_id": BOT_USER_ID, "is_bot": True, "is_enterprise_install": False}
        ],
    }


def mention_event(
    text: str, *, channel: str, user: str = "UASKER01", ts: str | None = None
) -> dict[str, Any]:
    ts = ts or new_ts()
    return {"type": "app_mention", "user": user, "text": text, "ts": ts, "channel": channel, "event_ts": ts}


def dm_event(text: str, *, channel: str, user: str = "UASKER01", **extra: Any) -> dict[str, Any]:
    ts = new_ts()
    event = {
        "type": "message",
        "channel_type": "im",
        "user": user,
        "text": text,
        "ts": ts,
        "channel": channel,
        "event_ts": ts,
    }
    event.update(extra)
    return event


def command_form(command: str, text: str, *, channel: str, user: str, response_url: str) -> dict[str, str]:
    return {
        "token": "legacy-verification-token",
        "team_id": TEAM_ID,
        "team_domain": "test",
        "channel_id": channel,
        "channel_name": "test",
        "user_id": user,
        "user_name": user.lower(),
        "command": command,
        "text": text,
        "api_app_id": "A0000001",
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": "1.2.3",
    }


def action_payload(
    action_id: str,
    value: str,
    *,
    channel: str,
    user: str,
    response_url: str,
    message_ts: str | None = None,
    thread_ts: str | None = None,
    ephemeral: bool = False,
) -> dict[str, Any]:
    message_ts = message_ts or new_ts()
    message = {"type": "message", "ts": message_ts, "user": BOT_USER_ID, "bot_id": BOT_ID, "text": "answer"}
    if thread_ts:
        message["thread_ts"] = thread_ts
    container = {
        "type": "message",
        "message_ts": message_ts,
        "channel_id": channel,
        "is_ephemeral": ephemeral,
    }
    if thread_ts:
        container["thread_ts"] = thread_ts
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": {"id": user, "username": user.lower(), "team_id": TEAM_ID},
        "api_app_id": "A0000001",
        "token": "legacy-verification-token",
        "container": container,
        "trigger_id": "1.2.3",
        "team": {"id": TEAM_ID, "domain": "test"},
        "channel": {"id": channel, "name": "t"},
        "response_url": response_url,
        "actions": [
            {
                "action_id": action_id,
                "block_id": "b1",
                "value": value,
                "type": "button",
                "text": {"type": "plain_text", "text": "x"},
                "action_ts": str(time.time()),
            }
        ],
    }
    if not ephemeral:  # Slack sends no message body for buttons on ephemeral messages
        payload["message"] = message
    return payload


def raw_post(port: int, headers: list[tuple[bytes, bytes]], body: bytes) -> int:
    """POST /slack/events with exactly these header bytes (no client library normalising them)."""
    head = [b"POST /slack/events HTTP/1.1", b"Host: 127.0.0.1", b"Connection: close"]
    head += [name + b": " + value for name, value in headers]
    head.append(b"Content-Length: " + str(len(body)).encode())
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(b"\r\n".join(head) + b"\r\n\r\n" + body)
        response = b""
        while b"\r\n" not in response:
            chunk = conn.recv(4096)
            if not chunk:
                break
            response += chunk
    status_line = response.split(b"\r\n", 1)[0]
    return int(status_line.split()[1]) if status_line.startswith(b"HTTP/") else 0


class SlackSender:
    """Posts signed requests to a running dockbot exactly as Slack does."""

    def __init__(self, base_url: str, secret: str = SIGNING_SECRET) -> None:
        self.url = base_url.rstrip("/") + "/slack/events"
        self.secret = secret
        self.http = requests.Session()

    def post_raw(
        self, body: str, content_type: str, headers: dict[str, str] | None = None
    ) -> requests.Response:
        return self.http.post(
            self.url,
            data=body.encode(),
            headers={"Content-Type": content_type, **(headers or {})},
            timeout=30,
        )

    def event(self, body: dict[str, Any], *, retry_num: int | None = None) -> requests.Response:
        raw = json.dumps(body)
        headers = sign(raw, secret=self.secret)
        if retry_num is not None:
            headers.update({"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": "http_timeout"})
        return self.post_raw(raw, "application/json", headers)

    def command(self, form: dict[str, str]) -> requests.Response:
        raw = urllib.parse.urlencode(form)
        return self.post_raw(raw, "application/x-www-form-urlencoded", sign(raw, secret=self.secret))

    def action(self, payload: dict[str, Any]) -> requests.Response:
        raw = urllib.parse.urlencode({"payload": json.dumps(payload)})
        return self.post_raw(raw, "application/x-www-form-urlencoded", sign(raw, secret=self.secret))


# ---- running dockbot ---------------------------------------------------------------------------------


# Settings that describe the machine rather than the test: kept from the caller's environment (a newcomer
# without busybox:1.36 points DOCKBOT_DEMO_IMAGE at another image), every other DOCKBOT_*/SLACK_* is dropped.
MACHINE_SETTINGS = ("DOCKBOT_DEMO_IMAGE",)


def dockbot_env(fake: FakeSlack, **overrides: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k in MACHINE_SETTINGS or not k.startswith(("SLACK_", "DOCKBOT_"))
    }
    env.update(
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=fake.api_url,
        PORT=str(free_port()),
        DOCKBOT_LOG_LEVEL="INFO",
        DOCKBOT_KNOWLEDGE_DIR=str(KNOWLEDGE_DIR),
        PYTHONUNBUFFERED="1",
    )
    env.update(overrides)
    return {k: v for k, v in env.items() if v is not None}


_TRAINED: set[tuple[str, str]] = set()


def train_once(env: dict[str, str]) -> None:
    """Train and cache the matcher's model for this knowledge and cache dir once per session, outside the
    health timeout: on an empty cache `serve` trains before it listens, which on a busy 2-core machine can
    take longer than a test should wait for /healthz."""
    key = (env.get("XDG_CACHE_HOME", ""), env.get("DOCKBOT_KNOWLEDGE_DIR", ""))
    if key in _TRAINED or not key[1]:
        return
    with tempfile.TemporaryDirectory() as scratch:  # the trainer's lock file (it removes it when done)
        lock = Path(scratch) / "training.lock"
        lock.touch()
        subprocess.run(
            [sys.executable, "-m", "bot.live_knowledge", key[1], str(lock)],
            cwd=REPO,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=1800,
            check=False,
        )
    _TRAINED.add(key)


# Every DockbotProcess started, in order: tests/conftest.py stops the ones a test started itself when that
# test ends (passed or failed), and any still running at the end of the session.
STARTED: list[DockbotProcess] = []


class DockbotProcess:
    """`dockbot serve` as a real subprocess; stderr goes to `log_path` (checked for leaked secrets)."""

    def __init__(self, env: dict[str, str], log_path: Path, *, open_files: int | None = None) -> None:
        self.env = env
        self.log_path = log_path
        self.port = int(env["PORT"])
        self.open_files = open_files  # RLIMIT_NOFILE of the process (e.g. the common 1024), if set
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> DockbotProcess:
        train_once(self.env)
        log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "serve"],
            cwd=REPO,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=self._limit_open_files if self.open_files else None,
        )
        STARTED.append(self)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"dockbot serve exited {self.proc.returncode}: {self.log_path.read_text()}"
                )
            try:
                if requests.get(self.base_url + "/healthz", timeout=1).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"dockbot serve did not become healthy: {self.log_path.read_text()}")

    def _limit_open_files(self) -> None:
        import resource

        _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (self.open_files, hard))

    def status(self) -> dict[str, int]:
        """VmRSS/VmHWM (KiB), Threads and open fds of the running process (from /proc)."""
        assert self.proc is not None
        fields = {}
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmHWM", "VmRSS", "Threads"):
                fields[key] = int(value.split()[0])
        fields["fds"] = len(list(Path(f"/proc/{self.proc.pid}/fd").iterdir()))
        return fields

    def stop(self) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(5)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")


class InProcessServer:
    """The real app and HTTP server in this process, on a free port (benchmarks, Socket Mode tests)."""

    def __init__(self, settings: Any, brain: Any) -> None:
        from handlers.app import build_app
        from handlers.http_mode import make_http_server

        self.app = build_app(settings, brain)
        self.server = make_http_server(self.app, brain, host="127.0.0.1", port=0)
        self.port = self.server.port
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> InProcessServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(10)
