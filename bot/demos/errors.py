"""Why a demo could not start. Every error carries a Korean sentence for the user (`message_ko`)."""

from __future__ import annotations


class DemoError(Exception):
    """Base of every demo refusal; `message_ko` is what the user sees, `str(exc)` is for logs."""

    def __init__(self, message_ko: str, detail: str = ""):
        super().__init__(detail or message_ko)
        self.message_ko = message_ko


class UnknownDemo(DemoError):
    """The name is not a scenario (or not a plain name at all); `available` lists the real ones."""

    def __init__(self, name: str, available: list[str]):
        listing = ", ".join(available) or "(없음)"
        super().__init__(f"그런 데모는 없습니다. 실행할 수 있는 데모: {listing}", f"unknown demo {name!r}")
        self.available = available


class DemoBusy(DemoError):
    """The host is at its cap of concurrent demos, or this user already runs one."""


class EngineUnavailable(DemoError):
    """The Docker engine cannot be reached (or the demo image is neither present nor pullable)."""
