"""Block Kit limits: make any rendered message fit what Slack accepts, by truncating safely.

Slack rejects a whole message (invalid_blocks / msg_blocks_too_long) when one limit is broken, so every
message goes through `fit_message` after its template rendered: 50 blocks, 3,000 characters per section
text, 2,000 per context element, 75 per button label, and an undocumented ~13,000 characters in all
(bolt-js#2509), for which we keep a margin.
"""

from __future__ import annotations

import json
from typing import Any

from bot.render import escape_mrkdwn

MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3000
MAX_CONTEXT_TEXT = 2000
MAX_HEADER_TEXT = 150
MAX_BUTTON_TEXT = 75
MAX_BUTTON_VALUE = 2000
MAX_ACTION_ELEMENTS = 25
# Observed limit ~13,000 characters of blocks; stay below it with room for Slack's own accounting.
MAX_TOTAL_CHARS = 12_000
# The top-level `text` is shown in notifications; Slack's practical guidance is ~4,000.
MAX_FALLBACK_TEXT = 3000

CUT_MARK = "…(생략)"
FENCE = "```"


def clip(text: str, limit: int, mark: str = CUT_MARK) -> str:
    """`text` cut to at most `limit` characters with a visible mark, never breaking a code fence or escape."""
    if len(text) <= limit:
        return text
    keep = max(limit - len(mark) - len(FENCE) - 1, 0)
    head = text[:keep]
    # Never leave half of an escape such as "&amp;" or "&lt;" (Slack would show it raw).
    amp = head.rfind("&")
    if amp != -1 and ";" not in head[amp:] and len(head) - amp < 6:
        head = head[:amp]
    if head.count(FENCE) % 2 == 1:
        return f"{head}\n{FENCE}{mark}"[:limit]
    return f"{head}{mark}"[:limit]


def code_block(text: str, limit: int = 1200) -> str:
    """`text` as a mrkdwn code block: escaped (no pings), fences inside neutralised, size capped."""
    safe = escape_mrkdwn(text).replace(FENCE, "ʼʼʼ").strip("\n")
    if len(safe) > limit:
        safe = safe[: max(limit - len(CUT_MARK) - 1, 0)] + "\n" + CUT_MARK
    return f"{FENCE}{safe or ' '}{FENCE}"


def split_for_sections(text: str, limit: int = MAX_SECTION_TEXT - 100) -> list[str]:
    """Split a long mrkdwn text into section-sized parts on line boundaries (hard split for huge lines)."""
    parts: list[str] = []
    current = ""
    for line in text.splitlines(keepends=True):
        while len(line) > limit:
            if current:
                parts.append(current)
                current = ""
            parts.append(line[:limit])
            line = line[limit:]
        if len(current) + len(line) > limit:
            parts.append(current)
            current = ""
        current += line
    if current.strip():
        parts.append(current)
    return [part.rstrip("\n") for part in parts if part.strip()] or [""]


def fit_message(blocks: list[dict[str, Any]], text: str) -> tuple[list[dict[str, Any]], str]:
    """Blocks and fallback text that respect every Block Kit limit; the actions (buttons) are kept."""
    blocks = [_fit_block(block) for block in blocks]
    if len(blocks) > MAX_BLOCKS:
        # Keep the head and every actions block at the end (buttons matter more than the middle of a log).
        tail: list[dict[str, Any]] = []
        while blocks and blocks[-1].get("type") == "actions" and len(tail) < 3:
            tail.insert(0, blocks.pop())
        dropped = len(blocks) - (MAX_BLOCKS - 1 - len(tail))
        blocks = [*blocks[: MAX_BLOCKS - 1 - len(tail)], _context(f"… 블록 {dropped}개 생략"), *tail]
    while _size(blocks) > MAX_TOTAL_CHARS:
        if not _shrink_longest_text(blocks, _size(blocks) - MAX_TOTAL_CHARS):
            # Nothing left to shorten: drop middle blocks until it fits (head and buttons stay).
            middle = next(
                (i for i in range(len(blocks) - 2, 0, -1) if blocks[i].get("type") != "actions"), None
            )
            if middle is None:
                break
            del blocks[middle]
    return blocks, clip(text, MAX_FALLBACK_TEXT) or " "


def _size(blocks: list[dict[str, Any]]) -> int:
    return len(json.dumps(blocks, ensure_ascii=False))


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}


def _fit_block(block: dict[str, Any]) -> dict[str, Any]:
    kind = block.get("type")
    if kind == "section":
        if "text" in block:
            block["text"]["text"] = clip(block["text"]["text"], MAX_SECTION_TEXT) or " "
        for field in block.get("fields", [])[:10]:
            field["text"] = clip(field["text"], MAX_CONTEXT_TEXT) or " "
        if "fields" in block:
            block["fields"] = block["fields"][:10]
    elif kind == "header":
        block["text"]["text"] = clip(block["text"]["text"], MAX_HEADER_TEXT, "…") or " "
    elif kind == "context":
        block["elements"] = block["elements"][:10]
        for element in block["elements"]:
            if "text" in element:
                element["text"] = clip(element["text"], MAX_CONTEXT_TEXT) or " "
    elif kind == "actions":
        block["elements"] = block["elements"][:MAX_ACTION_ELEMENTS]
        for element in block["elements"]:
            if element.get("type") == "button":
                element["text"]["text"] = clip(element["text"]["text"], MAX_BUTTON_TEXT, "…") or " "
                if len(element.get("value", "")) > MAX_BUTTON_VALUE:
                    element["value"] = element["value"][:MAX_BUTTON_VALUE]
    return block


def _shrink_longest_text(blocks: list[dict[str, Any]], excess: int) -> bool:
    longest: dict[str, Any] | None = None
    for block in blocks:
        if block.get("type") == "section" and "text" in block:
            obj = block["text"]
            if longest is None or len(obj["text"]) > len(longest["text"]):
                longest = obj
    if longest is None or len(longest["text"]) <= 200:
        return False
    target = max(len(longest["text"]) - excess - 50, 200)
    longest["text"] = clip(longest["text"], target)
    return True
