"""Jinja2 templates -> terminal text and Slack Block Kit JSON.

One template family serves every door: `*.txt.j2` render plain text (terminal, Slack fallback text),
`*.blocks.j2` render a JSON list of Block Kit blocks. The core never builds Slack payloads by hand.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

import jinja2

from bot.control_chars import for_terminal
from bot.review import last_checked_label
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
    env.filters["last_checked"] = last_checked_label  # "마지막 확인: 2026-12" (bot/review.py)
    env.filters["json"] = lambda value: json.dumps(value, ensure_ascii=False)
    return env


def render_text(template: str, **context: Any) -> str:
    """Render `template` (e.g. "answer.txt.j2") to text."""
    return environment().get_template(template).render(**context).strip()


def render_blocks(template: str, **context: Any) -> list[dict[str, Any]]:
    """Render `template` (e.g. "answer.blocks.j2"), which must produce a JSON list of blocks."""
    text = environment().get_template(template).render(**context)
    blocks = json.loads(text)
    if not isinstance(blocks, list):
        raise ValueError(f"{template} must render a JSON list of blocks")
    return blocks
