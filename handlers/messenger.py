"""`Messenger`: the one place with the reply policy for Web API errors.

`not_in_channel` falls back to the response_url, anything else is logged with context and the user gets a
short Korean apology; 429s and connection errors are retried by slack_sdk's retry handlers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry import ConnectionErrorRetryHandler, RateLimitErrorRetryHandler
from slack_sdk.webhook import WebhookClient

log = logging.getLogger("dockbot.slack")

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
            code = error_code(exc)
            if code in FALLBACK_ERRORS and response_url:
                log.info(
                    "chat.postMessage in %s failed with %s: replying through the response_url", channel, code
                )
                if self.respond(response_url, text=text, blocks=blocks, in_channel=True):
                    return Posted(channel=channel, response_url=response_url, uses=1)
            log_failure("chat.postMessage", exc, channel=channel, user=user)
        except (SlackClientError, OSError) as exc:
            log_failure("chat.postMessage", exc, channel=channel, user=user)
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
            log_failure("chat.update", exc, channel=posted.channel)
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
            log_failure("chat.postEphemeral", exc, channel=channel, user=user)
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
                log.warning(
                    "apology not delivered (channel=%s user=%s): %s", channel, user, describe_error(exc)
                )


def error_code(exc: SlackApiError) -> str:
    try:
        return str(exc.response.get("error") or "")
    except Exception:
        return ""


def describe_error(exc: BaseException) -> str:
    if isinstance(exc, SlackApiError):
        return f"Slack API error {error_code(exc) or '?'}"
    return f"{type(exc).__name__}: {exc}"


def log_failure(method: str, exc: BaseException, *, channel: str = "", user: str = "") -> None:
    log.error("%s failed (channel=%s user=%s): %s", method, channel or "-", user or "-", describe_error(exc))
