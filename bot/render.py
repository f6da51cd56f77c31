"""Jinja2 templates -> message text for every door.

`*.txt.j2` render the terminal's text and `*.slack.txt.j2` Slack's mrkdwn fallback text. Block Kit is the
Slack door's own job (handlers/blocks.py, in Python): the core never builds Slack payloads.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import jinja2

from bot.control_chars import for_terminal
from bot.terminal_text import plain_text


def escape_mrkdwn(text: object) -> str:
    """Escape what Slack treats as markup, so quoted user text can never ping (<!channel>, <@U…>)."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("bot", "templates"),
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["mrkdwn"] = escape_mrkdwn
    # Stored user text in a multi-line terminal report: one line each, no control characters.
    env.filters["one_line"] = lambda value: for_terminal(str(value), keep_newlines=False)
    # Knowledge text (Slack mrkdwn) as a terminal shows it (bot/terminal_text.py).
    env.filters["plain"] = plain_text
    return env


def render_text(template: str, **context: Any) -> str:
    """Render `template` (e.g. "answer.txt.j2") to text."""
    return environment().get_template(template).render(**context).strip()
