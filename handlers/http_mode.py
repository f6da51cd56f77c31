"""HTTP mode: the WSGI app (GET /healthz; POST /slack/events behind the signature gate) and its server."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler

from handlers.http_server import HttpLimits, HttpServer
from handlers.signature import SignedRequestGate, plain_response

if TYPE_CHECKING:
    from bot.brain import Brain

log = logging.getLogger("dockbot.slack")


def wsgi_app(app: App, brain: Brain) -> Callable[..., Iterable[bytes]]:
    """GET /healthz (for load balancers and the container HEALTHCHECK) and POST /slack/events, where only
    requests with a valid Slack signature and a bounded body (handlers/signature.py) reach Bolt."""
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
        snapshot = brain.snapshot()
        status["knowledge_version"] = str(snapshot.version)
        status["entries"] = len(snapshot.kb.entries)
    except Exception as exc:  # health must answer even if a part is odd
        status["knowledge_error"] = type(exc).__name__
    status["demos"] = brain.demos is not None
    return status


def make_http_server(
    app: App, brain: Brain, *, host: str = "0.0.0.0", port: int = 3000, limits: HttpLimits | None = None
) -> HttpServer:
    return HttpServer(wsgi_app(app, brain), host=host, port=port, limits=limits)
