"""Reading the terminal chat's input: readline line editing and history on a terminal, plain lines otherwise.

On a terminal (`dockbot chat` typed at by a person) the line is read by readline: arrows and Ctrl-A/E
edit it, Up/Down walk the history kept in $XDG_CACHE_HOME/dockbot/chat_history, Ctrl-L clears the
screen. A multi-line paste is one question: lines that are already waiting when one is read arrived
together (a paste, not typing) and are joined to it. From a pipe or a file every line is its own question.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import sys
from pathlib import Path
from typing import TextIO

log = logging.getLogger(__name__)

HISTORY_LINES = 1000
# How long to wait for the next line of a paste: a paste arrives in one burst, a person types far slower.
PASTE_GAP_S = 0.05
# A paste joined into one question stops here (the matcher reads a question, not a file).
MAX_PASTE_LINES = 50


def history_path() -> Path:
    from bot.thresholds import cache_dir

    return cache_dir() / "chat_history"


class TerminalInput:
    """`read(prompt)` -> the next question (a paste joined), or None at the end of input."""

    def __init__(self, stdin: TextIO, stdout: TextIO, *, interactive: bool) -> None:
        self.stdin, self.stdout = stdin, stdout
        self.interactive = interactive
        # readline edits what input() reads: the process's own terminal, never a stream handed in.
        self._readline = self._setup_readline() if interactive and stdin is sys.stdin else None

    def _setup_readline(self):  # the module, or None where Python has no readline
        try:
            import readline
        except ImportError:
            return None
        readline.parse_and_bind("Control-l: clear-screen")
        readline.set_history_length(HISTORY_LINES)
        with contextlib.suppress(OSError):
            readline.read_history_file(history_path())
        return readline

    def save_history(self) -> None:
        if self._readline is None:
            return
        path = history_path()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._readline.write_history_file(path)
        except OSError as exc:  # a read-only home must not end the chat with an error
            log.warning("chat history not saved: %s", exc)

    def _line(self, prompt: str) -> str | None:
        if self._readline is not None:
            try:
                return input(prompt)
            except EOFError:
                return None
        if prompt:
            self.stdout.write(prompt)
            self.stdout.flush()
        line = self.stdin.readline()
        return line.rstrip("\n") if line else None

    def _more_waiting(self) -> bool:
        try:
            ready, _, _ = select.select([self.stdin.fileno()], [], [], PASTE_GAP_S)
        except (OSError, ValueError, AttributeError):  # not a real file (tests' StringIO): no paste
            return False
        return bool(ready)

    def read(self, prompt: str) -> str | None:
        before = self._readline.get_current_history_length() if self._readline is not None else 0
        first = self._line(prompt if self.interactive else "")
        if first is None:
            return None
        lines = first.splitlines() or [""]  # readline's bracketed paste hands over one string with newlines
        while self.interactive and len(lines) < MAX_PASTE_LINES and self._more_waiting():
            more = self._line("")
            if more is None:
                break
            lines.extend(more.splitlines())
        if self._readline is not None and len(lines) > 1:
            # History keeps a pasted question as one entry (input() added each of its lines).
            while self._readline.get_current_history_length() > before:
                self._readline.remove_history_item(self._readline.get_current_history_length() - 1)
            self._readline.add_history(" ".join(line.strip() for line in lines if line.strip()))
        return "\n".join(lines)


def is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty() and os.isatty(stream.fileno())
    except (AttributeError, ValueError, OSError):
        return False
