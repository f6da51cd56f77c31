"""The Slack door: builds the Bolt App from Settings, and `serve()` runs it (Socket Mode or HTTP).

This is the only module that imports slack_bolt / slack_sdk. It owns
- the Web API client (SLACK_API_URL as base_url; 429s retried after Retry-After, connection errors retried),
- `Messenger`, the one place with the reply policy for Web API errors (`not_in_channel` falls back to the
  response_url, anything else is logged with context and the user gets a short Korean apology),
- middleware: dedupe of retried events by event_id, and the Brain + Messenger in `context`,
- `serve()`: Socket Mode with a liveness watchdog and a heartbeat file, or a threaded HTTP server with
  Bolt's /slack/events and GET /healthz.
Handlers (handlers/*.py) are plain functions that get Bolt's injected arguments; they never import Slack SDKs.
"""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from slack_bolt import App, BoltRequest, BoltResponse
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry import ConnectionErrorRetryHandler, RateLimitErrorRetryHandler
from slack_sdk.webhook import WebhookClient

from bot.config import ConfigError, Settings
from bot.healthcheck import heartbeat_file
from bot.http_server import HttpLimits, HttpServer
from bot.logging_setup import configure_logging
from bot.render import escape_mrkdwn
from bot.slack_signature import SignedRequestGate, plain_response, signature_matches
from handlers import admin, ask, demo, experts, feedback, home, review, views
from handlers.payload import Origin
from handlers.recent import RecentKeys

if TYPE_CHECKING:
    from bot.brain import Brain

log = logging.getLogger("dockbot.slack")

DEFAULT_API_URL = "https://slack.com/api/"
# Listeners only match questions and call the Web API (demos run on the DemoService's own pool), but 50
# concurrent requests must still be acknowledged quickly: Bolt's default of 5 workers is too few.
LISTENER_WORKERS = 16
APOLOGY_KO = "죄송해요, 답을 보내는 중에 문제가 생겼어요. 잠시 후 다시 시도해 주세요. :pray:"
# Errors after which a reply can still reach the user through the response_url of a command or button.
FALLBACK_ERRORS = frozenset({"not_in_channel", "channel_not_found", "is_archived", "restricted_action"})
RESPONSE_URL_USES = 5  # Slack accepts at most 5 messages per response_url (within 30 minutes)
# A response_url lets anyone who has it post into the channel for 30 minutes: it is a credential. slack_sdk's
# webhook client writes it whole into its DEBUG lines and its INFO retry notice (f-strings, so a Filter could
# only redact by matching text): its own logger, never below WARNING, keeps it out. Failures are still logged
# by Messenger.respond, without the URL.
RESPONSE_URL_LOG = logging.getLogger("dockbot.slack.response_url")
RESPONSE_URL_LOG.setLevel(logging.WARNING)
# On SIGTERM, how long to wait for stopped demos' last message edits (a container stop grace period is 10 s).
FINAL_EDIT_WAIT_S = 5.0


# ---- tokens ------------------------------------------------------------------------------------------


def check_tokens(settings: Settings) -> None:
    """Raise ConfigError naming the variable when a token the chosen mode needs is missing or malformed."""
    if not settings.slack_bot_token:
        raise ConfigError(
            "SLACK_BOT_TOKEN is not set (the Bot User OAuth Token, xoxb-…, from OAuth & Permissions)"
        )
    if not settings.slack_bot_token.startswith("xoxb-") or re.search(r"\s", settings.slack_bot_token):
        raise ConfigError("SLACK_BOT_TOKEN is malformed: a bot token starts with xoxb- (OAuth & Permissions)")
    if settings.slack_app_token:
        if not settings.slack_app_token.startswith("xapp-") or re.search(r"\s", settings.slack_app_token):
            raise ConfigError(
                "SLACK_APP_TOKEN is malformed: an app-level token starts with xapp- "
                "(Basic Information > App-Level Tokens, scope connections:write)"
            )
        return
    if not settings.slack_signing_secret:
        raise ConfigError(
            "SLACK_SIGNING_SECRET is not set: HTTP mode needs it (Basic Information > Signing Secret); "
            "or set SLACK_APP_TOKEN for Socket Mode"
        )
    if re.search(r"\s", settings.slack_signing_secret):
        raise ConfigError("SLACK_SIGNING_SECRET is malformed: it contains whitespace")


def build_web_client(settings: Settings) -> WebClient:
    return WebClient(
        token=settings.slack_bot_token,
        base_url=settings.slack_api_url or DEFAULT_API_URL,
        timeout=15,
        retry_handlers=[
            ConnectionErrorRetryHandler(max_retry_count=2),
            RateLimitErrorRetryHandler(max_retry_count=3),
        ],
    )


# ---- replies -----------------------------------------------------------------------------------------


@dataclass
class Posted:
    """Where a message lives so that it can be edited later."""

    channel: str
    ts: str | None = None  # posted with chat.postMessage: editable with chat.update
    response_url: str | None = None  # posted through a response_url: editable a few times only
    uses: int = 0

    @property
    def edits_left(self) -> int | None:
        """None: as many as the rate limit allows; otherwise what is left of the response_url budget."""
        return None if self.ts else max(RESPONSE_URL_USES - self.uses, 0)


class Messenger:
    """Sends replies with one error policy, so that no handler can fail silently."""

    def __init__(self, client: WebClient) -> None:
        self.client = client
        self._retry_handlers = [
            ConnectionErrorRetryHandler(max_retry_count=2),
            RateLimitErrorRetryHandler(max_retry_count=3),
        ]

    def post(
        self,
        *,
        channel: str,
        text: str,
        blocks: list[dict[str, Any]] | None = None,
        thread_ts: str | None = None,
        user: str = "",
        response_url: str | None = None,
    ) -> Posted | None:
        """Post a message; when the bot may not post there, fall back to the response_url (in channel)."""
        try:
            resp = self.client.chat_postMessage(
                channel=channel,
                text=text,
                blocks=blocks,
                thread_ts=thread_ts,
                unfurl_links=False,
                unfurl_media=False,
            )
            return Posted(channel=str(resp.get("channel") or channel), ts=str(resp["ts"]))
        except SlackApiError as exc:
            code = _error_code(exc)
            if code in FALLBACK_ERRORS and response_url:
                log.info(
                    "chat.postMessage in %s failed with %s: replying through the response_url", channel, code
                )
                if self.respond(response_url, text=text, blocks=blocks, in_channel=True):
                    return Posted(channel=channel, response_url=response_url, uses=1)
            _log_failure("chat.postMessage", exc, channel=channel, user=user)
        except (SlackClientError, OSError) as exc:
            _log_failure("chat.postMessage", exc, channel=channel, user=user)
        self.apologize(
            channel=channel, user=user, thread_ts=thread_ts, response_url=response_url, failed="post"
        )
        return None

    def update(self, posted: Posted, *, text: str, blocks: list[dict[str, Any]] | None = None) -> bool:
        """Edit a posted message. Returns False when it could not be edited (logged)."""
        if posted.ts is None:
            if not posted.response_url or posted.uses >= RESPONSE_URL_USES:
                return False
            posted.uses += 1
            return self.respond(
                posted.response_url, text=text, blocks=blocks, in_channel=True, replace_original=True
            )
        try:
            self.client.chat_update(channel=posted.channel, ts=posted.ts, text=text, blocks=blocks)
            return True
        except (SlackClientError, OSError) as exc:
            _log_failure("chat.update", exc, channel=posted.channel)
            return False

    def ephemeral(
        self,
        *,
        channel: str,
        user: str,
        text: str,
        blocks: list[dict[str, Any]] | None = None,
        thread_ts: str | None = None,
        response_url: str | None = None,
    ) -> bool:
        """A message only `user` sees: through the response_url when there is one (works where the bot is
        not a member), otherwise chat.postEphemeral."""
        if response_url and self.respond(response_url, text=text, blocks=blocks):
            return True
        try:
            self.client.chat_postEphemeral(
                channel=channel, user=user, text=text, blocks=blocks, thread_ts=thread_ts
            )
            return True
        except (SlackClientError, OSError) as exc:
            _log_failure("chat.postEphemeral", exc, channel=channel, user=user)
            return False

    def respond(
        self,
        response_url: str,
        *,
        text: str,
        blocks: list[dict[str, Any]] | None = None,
        in_channel: bool = False,
        replace_original: bool = False,
        delete_original: bool = False,
    ) -> bool:
        webhook = WebhookClient(
            response_url, timeout=15, retry_handlers=self._retry_handlers, logger=RESPONSE_URL_LOG
        )
        try:
            resp = webhook.send(
                text=text,
                blocks=blocks,
                response_type="in_channel" if in_channel else "ephemeral",
                replace_original=replace_original,
                delete_original=delete_original,
            )
        except (SlackClientError, OSError, ValueError) as exc:
            # ValueError: a response_url that is not a URL (a forged but signed payload).
            # The response_url is a credential: log why it failed, never the URL (some messages quote it).
            reason = getattr(exc, "reason", None) or getattr(exc, "strerror", None) or ""
            log.error("response_url reply failed: %s %s", type(exc).__name__, reason)
            return False
        if resp.status_code != 200:
            log.error("response_url reply failed: HTTP %s %s", resp.status_code, (resp.body or "")[:200])
            return False
        return True

    def apologize(
        self,
        *,
        channel: str = "",
        user: str = "",
        thread_ts: str | None = None,
        response_url: str | None = None,
        failed: str = "",
    ) -> None:
        """Tell the user something went wrong, by whichever route still works; never raises."""
        if response_url and self.respond(response_url, text=APOLOGY_KO):
            return
        routes: list[Callable[[], Any]] = []
        if channel and user:
            routes.append(
                lambda: self.client.chat_postEphemeral(
                    channel=channel, user=user, text=APOLOGY_KO, thread_ts=thread_ts
                )
            )
        if channel and failed != "post":
            routes.append(
                lambda: self.client.chat_postMessage(channel=channel, text=APOLOGY_KO, thread_ts=thread_ts)
            )
        for route in routes:
            try:
                route()
                return
            except (SlackClientError, OSError) as exc:
                log.warning("apology not delivered (channel=%s user=%s): %s", channel, user, _describe(exc))


def _error_code(exc: SlackApiError) -> str:
    try:
        return str(exc.response.get("error") or "")
    except Exception:
        return ""


def _describe(exc: BaseException) -> str:
    if isinstance(exc, SlackApiError):
        return f"Slack API error {_error_code(exc) or '?'}"
    return f"{type(exc).__name__}: {exc}"


def _log_failure(method: str, exc: BaseException, *, channel: str = "", user: str = "") -> None:
    log.error("%s failed (channel=%s user=%s): %s", method, channel or "-", user or "-", _describe(exc))


# ---- the App -----------------------------------------------------------------------------------------


def build_app(
    settings: Settings,
    brain: Brain,
    *,
    client: WebClient | None = None,
    recent: RecentKeys | None = None,
    demo_edit_interval_s: float = 1.0,
) -> App:
    """The Bolt App with dockbot's middleware and listeners registered."""
    client = client or build_web_client(settings)
    messenger = Messenger(client)
    bolt_logger = logging.getLogger("dockbot.bolt")
    if not any(isinstance(f, _SameTokenNotice) for f in bolt_logger.filters):
        bolt_logger.addFilter(_SameTokenNotice())
    recent = recent or brain.deliveries(RecentKeys())  # across replicas on PostgreSQL: bot/deliveries.py
    app = App(
        client=client,
        signing_secret=settings.slack_signing_secret or None,
        # serve() already called auth.test (for a clear error line); Bolt calls it again lazily and caches it.
        token_verification_enabled=False,
        listener_executor=ThreadPoolExecutor(
            max_workers=LISTENER_WORKERS, thread_name_prefix="bolt-listener"
        ),
        logger=bolt_logger,
    )
    _keep_bodies_out_of_logs()

    @app.middleware
    def answer_each_event_once(req: Any, resp: Any, next: Callable[[], Any]) -> Any:
        body = req.body if isinstance(req.body, dict) else {}
        event_id = body.get("event_id")
        if body.get("type") == "event_callback" and event_id and not recent.first_time(f"event:{event_id}"):
            retry = _first_header(req.headers, "x-slack-retry-num")
            log.info("duplicate delivery of %s ignored (retry %s)", event_id, retry or "-")
            return BoltResponse(status=200, body="")
        return next()

    @app.middleware
    def provide_core(context: Any, next: Callable[[], Any]) -> Any:
        context["brain"] = brain
        context["messenger"] = messenger
        context["recent"] = recent
        context["demo_edit_interval_s"] = demo_edit_interval_s
        return next()

    @app.error
    def apologize_for_errors(error: Exception, body: dict[str, Any], request: BoltRequest) -> None:
        if not _verified(request, settings.slack_signing_secret or ""):
            # Bolt also calls this for errors raised before or during its own signature check: never act
            # on (or reply to) a body nobody verified: its channel, user and response_url are anyone's.
            log.error("request failed before it was verified: %s (nothing sent)", type(error).__name__)
            return
        origin = Origin.from_body(body)
        log.error(
            "listener failed (payload=%s channel=%s user=%s): %s",
            body.get("type") or ("command" if "command" in body else "?"),
            origin.channel or "-",
            origin.user or "-",
            f"{type(error).__name__}: {error}",
            exc_info=error,
        )
        messenger.apologize(
            channel=origin.channel,
            user=origin.user,
            thread_ts=origin.thread_ts or origin.message_ts,
            response_url=origin.response_url,
        )

    register_listeners(app)
    return app


def _keep_bodies_out_of_logs() -> None:
    """Bolt's loggers that print request bodies, set above the level they print them at.

    RequestVerification logs the whole body at INFO when a signature fails (the gate in front of Bolt
    refuses those first, but a request at the edge of the 5-minute window could pass it and fail here);
    IgnoringSelfEvents logs the bot's own events with their text at DEBUG. Bolt copies its base logger's
    level onto these when the App is built, so this runs after that.
    """
    logging.getLogger("slack_bolt.RequestVerification").setLevel(logging.WARNING)
    logging.getLogger("slack_bolt.IgnoringSelfEvents").setLevel(logging.INFO)


class _SameTokenNotice(logging.Filter):
    """Bolt warns that SLACK_BOT_TOKEN is unused when a client is given; it is the client's token: no news."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "`token` will be unused" not in record.getMessage()


def register_listeners(app: App) -> None:
    app.event("app_mention")(ask.on_mention)
    app.event("message")(ask.on_message)
    app.command("/docker")(ask.on_docker_command)
    app.action(views.SHARE_ACTION)(ask.on_share)
    app.action(re.compile(ask.PICK_ACTION_PATTERN))(ask.on_pick)
    app.command("/demo")(demo.on_demo_command)
    app.action(re.compile(demo.RUN_DEMO_ACTION_PATTERN))(demo.on_demo_button)
    app.action(re.compile(feedback.VOTE_ACTION_PATTERN))(feedback.on_vote)
    app.action(views.ASK_HUMAN_ACTION)(experts.on_ask_human)
    app.action(experts.MAKE_DRAFT_ACTION)(experts.on_make_draft)
    app.action(re.compile(review.ACTION_PATTERN))(review.on_review_action)
    app.command("/dockbot")(admin.on_dockbot_command)
    app.event("app_home_opened")(home.on_home_opened)  # the admin loop's App Home tab


def _verified(request: BoltRequest, signing_secret: str) -> bool:
    """Socket Mode requests come over our own authenticated connection; HTTP ones carry a signature."""
    if request.mode == "socket_mode":
        return True
    return signature_matches(
        signing_secret,
        _first_header(request.headers, "x-slack-request-timestamp"),
        request.raw_body.encode(),
        _first_header(request.headers, "x-slack-signature"),
    )


def _first_header(headers: dict[str, Any], name: str) -> str:
    value = headers.get(name)
    if isinstance(value, list | tuple):
        return str(value[0]) if value else ""
    return str(value or "")


# ---- HTTP mode ---------------------------------------------------------------------------------------


def wsgi_app(app: App, brain: Brain) -> Callable[..., Iterable[bytes]]:
    """GET /healthz (for load balancers and the container HEALTHCHECK) and POST /slack/events, where only
    requests with a valid Slack signature and a bounded body (bot/slack_signature.py) reach Bolt."""
    bolt = SlackRequestHandler(app)

    def verified(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        def respond(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            if status.startswith("500"):
                # Bolt answers 500 when one of its middlewares raised on an odd payload (e.g. "event":
                # null): the payload is at fault, and a 5xx would only make Slack send it again.
                status = "400 Bad Request"
            return start_response(status, headers, exc_info)

        try:
            return bolt(environ, respond)
        except Exception as exc:
            # Bolt parses the (verified) body, and a JSON body that is not an object (null, a list, a
            # string) or is not UTF-8 makes it raise: refuse it rather than answer 500 with a traceback.
            log.warning("malformed request refused (400): %s", type(exc).__name__)
            return plain_response(start_response, "400 Bad Request", "bad request")

    gate = SignedRequestGate(verified, brain.settings.slack_signing_secret or "")

    def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path, method = environ.get("PATH_INFO"), environ.get("REQUEST_METHOD")
        if path == "/healthz" and method in ("GET", "HEAD"):
            body = json.dumps(health(brain, mode="http")).encode()
            start_response(
                "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
            )
            return [body]
        if path == "/slack/events" and method == "POST":
            return gate(environ, start_response)
        return plain_response(start_response, "404 Not Found", "not found")

    return application


def health(brain: Brain, *, mode: str) -> dict[str, Any]:
    status: dict[str, Any] = {"ok": True, "mode": mode}
    try:
        status["knowledge_version"] = str(brain.knowledge.current.version)
        status["entries"] = len(brain.knowledge.current.kb.entries)
    except Exception as exc:  # health must answer even if a part is odd
        status["knowledge_error"] = type(exc).__name__
    status["demos"] = brain.demos is not None
    return status


def make_http_server(
    app: App, brain: Brain, *, host: str = "0.0.0.0", port: int = 3000, limits: HttpLimits | None = None
) -> HttpServer:
    return HttpServer(wsgi_app(app, brain), host=host, port=port, limits=limits)


# ---- Socket Mode -------------------------------------------------------------------------------------


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
            log.error("socket mode: reconnect %d failed: %s", self.failures, _describe(exc))
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


# ---- serve -------------------------------------------------------------------------------------------


def serve(settings: Settings | None = None) -> int:
    """`dockbot serve`: exit 2 with one line naming the variable when a token is missing or malformed."""
    configure_logging(os.environ.get("DOCKBOT_LOG_LEVEL", "INFO"))
    try:
        settings = settings or Settings.from_env()
        check_tokens(settings)
        limits = HttpLimits.from_env()
    except (ConfigError, ValueError) as exc:
        print(f"dockbot: {exc}", file=sys.stderr)
        return 2
    client = build_web_client(settings)
    try:
        auth = client.auth_test()
    except SlackApiError as exc:
        print(
            f"dockbot: SLACK_BOT_TOKEN was rejected by Slack ({_error_code(exc) or 'error'})", file=sys.stderr
        )
        return 2
    except (SlackClientError, OSError) as exc:
        print(
            f"dockbot: cannot reach the Slack Web API at {client.base_url}: {_describe(exc)}", file=sys.stderr
        )
        return 1
    log.info("authenticated as bot user %s in team %s", auth.get("user_id"), auth.get("team_id"))

    from bot.brain import build_brain

    try:
        brain = build_brain(settings)
    except Exception as exc:  # knowledge errors print path:line problems; anything else one line
        problems = getattr(exc, "problems", None)
        for problem in problems or [exc]:
            print(f"dockbot: {problem}", file=sys.stderr)
        return 1
    _warm_up(brain)
    if brain.demos is not None:
        # What a SIGKILLed earlier process left goes now, not at the next demo.
        brain.demos.sweep_in_background()
    try:
        # Seconds between two edits of one live demo message; Slack asks for about one per second.
        edit_interval = float(os.environ.get("DOCKBOT_DEMO_EDIT_INTERVAL_S", "").strip() or 1.0)
    except ValueError:
        print("dockbot: DOCKBOT_DEMO_EDIT_INTERVAL_S must be a number of seconds", file=sys.stderr)
        return 2
    app = build_app(settings, brain, client=client, demo_edit_interval_s=max(edit_interval, 0.1))
    brain.start_watching(admin_notifier(client, settings))  # hot reload of knowledge/ (bot/reloader.py)
    try:
        if settings.slack_app_token:
            return _serve_socket_mode(app, settings)
        return _serve_http(app, brain, settings, limits)
    finally:
        brain.stop_watching()
        if brain.demos is not None:
            brain.demos.close()  # running demos stop between steps and clean up what they created
            from handlers.demo import wait_for_final_edits

            if unsent := wait_for_final_edits(FINAL_EDIT_WAIT_S):
                log.warning("shutdown: %d demo messages did not get their final edit", unsent)


def admin_notifier(client: WebClient, settings: Settings) -> Callable[[str], None]:
    """Tell admins about broken/fixed knowledge edits: in DOCKBOT_ADMIN_CHANNEL, else a DM to each admin."""
    targets = [settings.admin_channel] if settings.admin_channel else sorted(settings.admins)

    def notify(text: str) -> None:
        if not targets:
            log.warning("knowledge notice for admins (no DOCKBOT_ADMINS / DOCKBOT_ADMIN_CHANNEL): %s", text)
        for channel in targets:  # a user id as channel posts in the app's DM with that user
            try:
                client.chat_postMessage(channel=channel, text=escape_mrkdwn(text), unfurl_links=False)
            except (SlackClientError, OSError) as exc:
                _log_failure("chat.postMessage (admin notice)", exc, channel=channel)

    return notify


def _warm_up(brain: Brain) -> None:
    """Pay any lazy start-up cost now, so the first real question still acks within 3 s."""
    try:
        brain.knowledge.current.matcher.match("도커 볼륨")
    except Exception as exc:
        log.warning("warm-up question failed: %s", exc)


def _stop_on_signals(stop: Callable[[], None]) -> None:
    def handler(signum: int, frame: Any) -> None:
        log.info("signal %d: shutting down", signum)
        threading.Thread(target=stop, daemon=True).start()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def _serve_http(app: App, brain: Brain, settings: Settings, limits: HttpLimits) -> int:
    server = make_http_server(app, brain, port=settings.port, limits=limits)
    _stop_on_signals(server.shutdown)
    log.info(
        "HTTP mode: listening on port %d (POST /slack/events, GET /healthz); at most %d connections, "
        "idle ones closed after %d s",
        server.port,
        limits.connection_limit,
        limits.idle_timeout_s,
    )
    server.serve_forever()
    return 0


def _serve_socket_mode(app: App, settings: Settings) -> int:
    try:
        handler = start_socket_mode(app, settings)
    except SlackApiError as exc:
        print(
            f"dockbot: SLACK_APP_TOKEN was rejected by Slack ({_error_code(exc) or 'error'})", file=sys.stderr
        )
        return 2
    except Exception as exc:
        print(f"dockbot: cannot open a Socket Mode connection: {_describe(exc)}", file=sys.stderr)
        return 1
    stop = threading.Event()
    _stop_on_signals(stop.set)
    heartbeat = heartbeat_file()  # the same path the container HEALTHCHECK (bot/healthcheck.py) reads
    watchdog = SocketModeWatchdog(handler, heartbeat=heartbeat)
    log.info("Socket Mode: connected (heartbeat file %s)", heartbeat)
    try:
        return watchdog.run(stop)
    finally:
        handler.close()
