"""`dockbot serve`: checks the tokens, builds the Brain and the App, and runs HTTP or Socket Mode until a
signal; on the way out running demos stop and get their last message edit."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.config import ConfigError, Settings
from bot.healthcheck import heartbeat_file
from bot.logging_setup import configure_logging
from bot.render import escape_mrkdwn
from handlers.app import build_app
from handlers.http_mode import make_http_server
from handlers.http_server import HttpLimits
from handlers.messenger import describe_error, error_code, log_failure
from handlers.socket_mode import SocketModeWatchdog, start_socket_mode
from handlers.web_client import build_web_client, check_tokens

if TYPE_CHECKING:
    from bot.brain import Brain

log = logging.getLogger("dockbot.slack")

# On SIGTERM, how long to wait for stopped demos' last message edits (a container stop grace period is 10 s).
FINAL_EDIT_WAIT_S = 5.0


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
            f"dockbot: SLACK_BOT_TOKEN was rejected by Slack ({error_code(exc) or 'error'})", file=sys.stderr
        )
        return 2
    except (SlackClientError, OSError) as exc:
        print(
            f"dockbot: cannot reach the Slack Web API at {client.base_url}: {describe_error(exc)}",
            file=sys.stderr,
        )
        return 1
    log.info("authenticated as bot user %s in team %s", auth.get("user_id"), auth.get("team_id"))

    from bot.brain import build_brain

    try:
        brain = build_brain(settings, serving=True)
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
                log_failure("chat.postMessage (admin notice)", exc, channel=channel)

    return notify


def _warm_up(brain: Brain) -> None:
    """Pay any lazy start-up cost now, so the first real question still acks within 3 s."""
    try:
        brain.snapshot().matcher.match("도커 볼륨")
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
            f"dockbot: SLACK_APP_TOKEN was rejected by Slack ({error_code(exc) or 'error'})", file=sys.stderr
        )
        return 2
    except Exception as exc:
        print(f"dockbot: cannot open a Socket Mode connection: {describe_error(exc)}", file=sys.stderr)
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
