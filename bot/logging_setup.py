"""Logging of the long-running door (`dockbot serve`): one record is one line, whatever a request contained.

Log messages can carry text from requests (a user id, an entry id from a button, an error that quotes a
payload). Control characters in a message are written escaped (`\\n`, `\\x1b`), so such text can never start
a line of its own and pass for a record; traceback lines are indented, so none of them can either.
"""

from __future__ import annotations

import logging

from bot.control_chars import escape_controls

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class OneLineFormatter(logging.Formatter):
    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = escape_controls(record.message)
        return super().formatMessage(record)

    def formatException(self, ei: object) -> str:
        return "\n".join("    " + line for line in super().formatException(ei).splitlines())  # type: ignore[arg-type]

    def formatStack(self, stack_info: str) -> str:
        return "\n".join("    " + line for line in stack_info.splitlines())


def configure_logging(level: str) -> None:
    """Root logging to stderr at `level` (e.g. DOCKBOT_LOG_LEVEL), one line per record."""
    handler = logging.StreamHandler()
    handler.setFormatter(OneLineFormatter(LOG_FORMAT))
    logging.basicConfig(level=level.upper(), handlers=[handler])
