"""Slack message text -> the question a person asked, and safe one-line quotes of user text.

Slack encodes user input: typed "&", "<", ">" arrive as &amp; &lt; &gt;, and "@channel" arrives as
<!channel>. The markup is read by the core's one grammar of it (bot/markup.py); the door adds only what is
Slack's: the bot's own mention is not part of the question. Quoting back always re-escapes, so nothing a
user typed can ping anyone through the bot.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from bot import markup
from bot.render import escape_mrkdwn

_SPACES = re.compile(r"\s+")

QUOTE_LIMIT = 200
# Slack has no escape for *bold*, _italic_, ~strike~ and `code`: a zero-width space on each side of such a
# character keeps it from opening or closing a format (Slack needs them next to a space or the text's
# edge), so the quote shows exactly what was typed and cannot break the reply's own formatting.
_FORMATTING = str.maketrans({ch: f"\u200b{ch}\u200b" for ch in "*_~`"})


@dataclass(frozen=True)
class SlackQuestion:
    text: str  # the question as typed, Slack markup removed and entities decoded
    had_broadcast: bool  # the message carried <!channel>/<!here>/<!everyone>
    only_markup: bool  # there was markup but no words


def question_from_slack(raw: str, bot_user_id: str | None = None) -> SlackQuestion:
    """The question inside a Slack message text (mention, DM or slash command)."""
    raw = raw or ""
    if bot_user_id:  # addressing the bot is not part of the question, nor "markup only"
        raw = markup.without_mention(raw, bot_user_id)
    text = markup.to_plain_text(raw)
    only_markup = markup.has_tags(raw) and not text
    return SlackQuestion(text=text, had_broadcast=markup.has_broadcast(raw), only_markup=only_markup)


def quote(text: str, limit: int = QUOTE_LIMIT) -> str:
    """User text made safe to show inside mrkdwn: one line, no control characters, short, with &, <, >
    escaped as Slack asks and *, _, ~, ` kept from formatting."""
    cleaned = "".join(
        # Control, format (zero-width), unassigned, private-use and line/paragraph separators become spaces.
        " " if unicodedata.category(ch)[0] == "C" or unicodedata.category(ch) in ("Zl", "Zp") else ch
        for ch in text or ""
    )
    cleaned = _SPACES.sub(" ", cleaned).strip()
    if len(cleaned) > limit:
        cleaned = cleaned[: limit - 1] + "…"
    # Escape after cutting so an entity such as &lt; is never cut in half.
    return escape_mrkdwn(cleaned).translate(_FORMATTING)
