"""Chat markup inside message text, the one grammar of it in the bot: mentions `<@U1>`, pings `<!channel>`,
user groups and dates `<!subteam^S1|@ops>`, channels `<#C1|dev>`, links `<https://…|label>` and the three
entities `&amp; &lt; &gt;` (how Slack writes the text a person typed; a terminal may paste the same).

Two readings, from the same patterns:
- `strip_for_matching`: what the matcher gets (bot/korean.py `clean_text`): mentions and pings go, link
  labels, channel names and code text stay, link addresses go (they carry no question);
- `to_plain_text`: what a person sees: links become their label (or address), channels `#name`, groups
  their label, entities decoded. The Slack door adds only what is Slack's (the bot's own id:
  handlers/slack_text.py).
Quantifiers are bounded so that no text can make a pattern slow.
"""

from __future__ import annotations

import re

MENTION = re.compile(r"<@([UWB][A-Z0-9]{1,40})(?:\|[^<>]{0,200})?>")
BROADCAST = re.compile(r"<!(?:channel|here|everyone|group)(?:\|[^<>]{0,200})?>")
SPECIAL = re.compile(r"<!(?:subteam\^[^<>|]{1,100}|date\^[^<>|]{1,200})(?:\|([^<>]{0,200}))?>")
CHANNEL = re.compile(r"<#([A-Z0-9]{1,40})(?:\|([^<>]{0,100}))?>")
LINK = re.compile(r"<((?:https?|mailto|ftp):[^<>|]{0,500})(?:\|([^<>]{0,300}))?>")
ANY_TAG = re.compile(r"<[@#!][^<>]{0,200}>")  # any mention, ping or channel, whatever its form
CODE = re.compile(r"`")


def strip_for_matching(text: str) -> str:
    """Markup that carries no question removed: mentions and pings go; labels, channel names, code stay."""
    text = CHANNEL.sub(lambda m: f" {m.group(2) or ''} ", text)
    text = LINK.sub(lambda m: f" {m.group(2) or ''} ", text)
    text = ANY_TAG.sub(" ", text)
    return CODE.sub(" ", text)


def has_broadcast(text: str) -> bool:
    return BROADCAST.search(text) is not None


def has_tags(text: str) -> bool:
    """Whether `text` has mentions, pings, groups or channels (links are words, not markup)."""
    return ANY_TAG.search(text) is not None


def without_mention(text: str, user_id: str) -> str:
    """`text` without mentions of `user_id` (addressing the bot is not part of what was asked)."""
    return MENTION.sub(lambda m: " " if m.group(1) == user_id else m.group(0), text)


def to_plain_text(text: str) -> str:
    """Markup as a reader sees it; mentions and pings removed (other people are not part of a question)."""
    text = BROADCAST.sub(" ", text)
    text = MENTION.sub(" ", text)
    text = SPECIAL.sub(lambda m: f" {m.group(1) or ''} ", text)
    text = CHANNEL.sub(lambda m: f" #{m.group(2)} " if m.group(2) else " ", text)
    text = LINK.sub(lambda m: f" {m.group(2) or m.group(1)} ", text)
    text = ANY_TAG.sub(" ", text)  # any other tag (an unknown <!…>) is markup too
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&").strip()
