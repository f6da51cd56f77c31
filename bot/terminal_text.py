"""Slack mrkdwn in knowledge text -> what a terminal shows (`dockbot chat`, `dockbot ask`).

Answers are written once for both doors in Slack's mrkdwn: *굵게*, ~지움~, <https://…|이름> links and
<#C…|채널> / <@U…> mentions. A terminal shows none of that as markup, so the emphasis marks go and links
become "이름 (주소)". `code` spans keep their backticks (readable as they are) and nothing inside them
changes: `<프로젝트>_default` or `rm *.log` is shown exactly as written.
"""

from __future__ import annotations

import re

_CODE_SPAN = re.compile(r"(`[^`\n]*`)")
# Slack's angle-bracket forms: links, channels, users, special mentions, with an optional |label.
_ANGLE = re.compile(r"<((?:https?://|mailto:|#C|#G|@U|@W|!)[^<>|\s]*)(?:\|([^<>]*))?>")
# *bold* / ~strike~ / _italic_: the mark touches the words it wraps; a Korean particle may follow it
# ("*한 호스트*에서"), a word character may not precede it (snake_case, 2*3).
_EMPHASIS = re.compile(r"(?<![\w*~])([*~_])(?=\S)([^*~_\n]*?\S)\1(?![*~_])")
_ENTITIES = (("&lt;", "<"), ("&gt;", ">"), ("&amp;", "&"))


def _angle(match: re.Match[str]) -> str:
    target, label = match.group(1), match.group(2)
    if target.startswith(("#", "@")):
        return f"{target[0]}{label or target[1:]}"
    if target.startswith("!"):
        return f"@{label or target[1:].split('^')[0]}"
    target = target.removeprefix("mailto:")
    return f"{label} ({target})" if label and label != target else target


def _outside_code(text: str) -> str:
    text = _ANGLE.sub(_angle, text)
    text = _EMPHASIS.sub(r"\2", text)
    for entity, char in _ENTITIES:
        text = text.replace(entity, char)
    return text


def plain_text(mrkdwn: str) -> str:
    """`mrkdwn` as terminal text: no emphasis marks, links as "label (url)", code spans untouched."""
    parts = _CODE_SPAN.split(str(mrkdwn))
    return "".join(part if i % 2 else _outside_code(part) for i, part in enumerate(parts))
