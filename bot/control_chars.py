"""Control characters in text that came from users: escaped in log lines, removed before a terminal shows it.

Anyone in Slack can put CR/LF, ESC sequences (`\\x1b[2J`, OSC 52 clipboard writes, window titles) or 8-bit
C1 controls into a question. Stored and printed raw, that text could forge log lines or drive the terminal
of the admin running `dockbot stats`.
"""

from __future__ import annotations

import re
import unicodedata

# ESC sequences: CSI (ESC [ … final byte), OSC/DCS/APC/PM/SOS strings (… BEL or ESC \\), and two-byte ones.
_ESCAPE_SEQUENCE = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]?"
    r"|\x1b[\]PX^_][^\x07\x1b]*(?:\x07|\x1b\\)?"
    r"|\x1b[ -~]?"
    r"|\x9b[0-?]*[ -/]*[@-~]?"
)
_LINE_BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"


def _is_control(ch: str) -> bool:
    return unicodedata.category(ch) == "Cc" or ch in _LINE_BREAKS


def escape_controls(text: str) -> str:
    """`text` on one line: every control character (C0, DEL, C1, Unicode line breaks) shown as an escape."""
    if text.isprintable():
        return text
    return "".join(ch.encode("unicode_escape").decode("ascii") if _is_control(ch) else ch for ch in text)


def for_terminal(text: str, *, keep_newlines: bool = True) -> str:
    """`text` safe to print: ESC sequences removed whole, other control characters removed; newlines and
    tabs kept when `keep_newlines` (a multi-line report), otherwise they become spaces."""
    text = _ESCAPE_SEQUENCE.sub("", text)
    kept = "\n\t" if keep_newlines else ""
    out = []
    for ch in text:
        if ch in kept:
            out.append(ch)
        elif ch in _LINE_BREAKS or ch == "\t":
            out.append(" ")
        elif _is_control(ch):
            continue
        elif unicodedata.category(ch) == "Cf" and ch != "\u200d":
            continue  # bidi overrides and invisible characters reorder or hide what is shown; ZWJ joins emoji
        else:
            out.append(ch)
    return "".join(out)


def json_for_terminal(text: str) -> str:
    """JSON text with the control characters json.dumps(ensure_ascii=False) leaves raw (DEL, C1, U+2028/9)
    written as \\u escapes: the same JSON value, nothing a terminal acts on."""
    return "".join(f"\\u{ord(ch):04x}" if _is_control(ch) and ch not in "\n\t" else ch for ch in text)
