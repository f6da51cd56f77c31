"""The Slack Web API client and the tokens it needs: one line naming the variable when one is wrong."""

from __future__ import annotations

import re

from slack_sdk import WebClient
from slack_sdk.http_retry import ConnectionErrorRetryHandler, RateLimitErrorRetryHandler

from bot.config import ConfigError, Settings

DEFAULT_API_URL = "https://slack.com/api/"


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
