"""The Bolt App: dockbot's middleware (dedupe of retried events, the core in `context`), the error
handler that apologises only on verified requests, and every listener registered by a plain call."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from slack_bolt import App, BoltRequest, BoltResponse
from slack_sdk import WebClient

from bot.config import Settings
from handlers import admin, ask, demo, experts, feedback, home, review, views
from handlers.messenger import Messenger
from handlers.payload import Origin
from handlers.recent import RecentKeys
from handlers.signature import signature_matches
from handlers.web_client import build_web_client

if TYPE_CHECKING:
    from bot.brain import Brain
    from bot.deliveries import FirstTime

log = logging.getLogger("dockbot.slack")

# Listeners only match questions and call the Web API (demos run on the DemoService's own pool), but 50
# concurrent requests must still be acknowledged quickly: Bolt's default of 5 workers is too few.
LISTENER_WORKERS = 16


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
    # Bolt reads SLACK_BOT_TOKEN itself and warns once that it is unused when a client is given: that client
    # carries the same token. The notice is left as Bolt writes it (matching its text would break silently).
    bolt_logger = logging.getLogger("dockbot.bolt")
    seen: FirstTime = recent or brain.deliveries(
        RecentKeys()
    )  # across replicas on PostgreSQL: bot/deliveries.py
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
        if body.get("type") == "event_callback" and event_id and not seen.first_time(f"event:{event_id}"):
            retry = first_header(req.headers, "x-slack-retry-num")
            log.info("duplicate delivery of %s ignored (retry %s)", event_id, retry or "-")
            return BoltResponse(status=200, body="")
        return next()

    @app.middleware
    def provide_core(context: Any, next: Callable[[], Any]) -> Any:
        context["brain"] = brain
        context["messenger"] = messenger
        context["recent"] = seen
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
        first_header(request.headers, "x-slack-request-timestamp"),
        request.raw_body.encode(),
        first_header(request.headers, "x-slack-signature"),
    )


def first_header(headers: dict[str, Any], name: str) -> str:
    value = headers.get(name)
    if isinstance(value, list | tuple):
        return str(value[0]) if value else ""
    return str(value or "")
