"""Where a Slack payload came from and where a reply to it belongs (event, slash command or button)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Origin:
    channel: str = ""
    user: str = ""
    thread_ts: str | None = None  # the thread the message is in (None: top level)
    message_ts: str | None = None  # the message itself (event text, or the message holding a button)
    response_url: str | None = None  # slash commands and buttons: works even where the bot is not a member
    ephemeral: bool = False  # a button pressed on a message only the presser sees

    @property
    def is_dm(self) -> bool:
        return self.channel.startswith("D")

    @property
    def reply_thread(self) -> str | None:
        """Where a public reply goes: the message's thread; in channels a thread under it; DMs top level."""
        if self.thread_ts:
            return self.thread_ts
        return None if self.is_dm else self.message_ts

    @property
    def conversation(self) -> str:
        """The conversation a follow-up belongs to (bot/conversation.py): the reply thread, or the DM."""
        thread = self.reply_thread
        return f"slack:{self.channel}:{thread}" if thread else f"slack:{self.channel}"

    @classmethod
    def from_body(cls, body: dict[str, Any]) -> Origin:
        if not isinstance(body, dict):
            return cls()
        event = body.get("event")
        if isinstance(event, dict):
            return cls(
                channel=str(event.get("channel") or ""),
                user=str(event.get("user") or ""),
                thread_ts=event.get("thread_ts") or None,
                message_ts=event.get("ts") or None,
            )
        if "command" in body:  # slash commands cannot be used inside threads
            return cls(
                channel=str(body.get("channel_id") or ""),
                user=str(body.get("user_id") or ""),
                response_url=body.get("response_url") or None,
            )
        container = body.get("container") or {}
        message = body.get("message") or {}
        channel = (body.get("channel") or {}).get("id") or container.get("channel_id") or ""
        return cls(
            channel=str(channel),
            user=str((body.get("user") or {}).get("id") or ""),
            thread_ts=message.get("thread_ts") or container.get("thread_ts") or None,
            message_ts=message.get("ts") or container.get("message_ts") or None,
            response_url=body.get("response_url") or None,
            ephemeral=bool(container.get("is_ephemeral")),
        )
