"""👍 / 👎 on an answer: one vote per user per answer message (a new vote replaces the old one)."""

from __future__ import annotations

import logging
import re
from typing import Any

from handlers.payload import Origin
from handlers.views import VOTE_DOWN_ACTION, VOTE_UP_ACTION

log = logging.getLogger("dockbot.handlers.feedback")

# \A…\Z, not ^…$: "$" also matches before a trailing newline, and Bolt matches with re.search.
VOTE_ACTION_PATTERN = rf"\A(?:{VOTE_UP_ACTION}|{VOTE_DOWN_ACTION})\Z"
THANKS_UP_KO = ":+1: 알려 주셔서 고마워요! 이 답이 도움이 됐다고 기록했어요."
THANKS_DOWN_KO = ":pray: 알려 주셔서 고마워요. 관리자들이 이 답을 고칠 수 있게 기록했어요."
NOT_RECORDED_KO = "의견은 고맙지만 지금은 기록할 수 없어요 (저장소가 꺼져 있어요)."
UNKNOWN_ENTRY_KO = "그 답변은 지식 베이스에서 바뀌었거나 사라져서 의견을 기록하지 않았어요. 고마워요!"
# Slack message timestamps ("1700000000.000100"); anything else is not a message this bot posted.
_MESSAGE_TS = re.compile(r"[0-9]{1,12}\.[0-9]{1,8}")


def on_vote(ack: Any, body: dict[str, Any], action: dict[str, Any], context: Any) -> None:
    ack()
    brain = context["brain"]
    origin = Origin.from_body(body)
    raw_value = action.get("value")
    # The button's value is the entry id the bot put there; only ids the knowledge base knows are votes
    # (a forged value never reaches the store, the stats or the log).
    entry = brain.snapshot().kb.get(raw_value) if isinstance(raw_value, str) else None
    message_ts = str(origin.message_ts or "")
    value = 1 if action.get("action_id") == VOTE_UP_ACTION else -1
    if entry is None or (message_ts and not _MESSAGE_TS.fullmatch(message_ts)):
        log.info("vote with an unknown entry id or message ignored (user %s)", origin.user)
        text = UNKNOWN_ENTRY_KO
    else:
        # The answer message identifies the vote: voting again on the same message changes it.
        message_ref = f"{origin.channel}:{message_ts}" if message_ts else ""
        recorded = brain.vote(
            user=origin.user,
            entry_id=entry.id,
            value=value,
            message=message_ref,
            channel=origin.channel,
            conversation=origin.conversation,  # after a 👎, the entry the asker finds next may learn it
        )
        log.info("vote %+d on %s by %s recorded=%s", value, entry.id, origin.user, recorded)
        text = (THANKS_UP_KO if value > 0 else THANKS_DOWN_KO) if recorded else NOT_RECORDED_KO
    context["messenger"].ephemeral(
        channel=origin.channel,
        user=origin.user,
        text=text,
        thread_ts=origin.thread_ts,
        response_url=origin.response_url,
    )
