"""👍 / 👎 on an answer: one vote per user per answer message (a new vote replaces the old one)."""

from __future__ import annotations

import logging
from typing import Any

from handlers.payload import Origin
from handlers.views import VOTE_DOWN_ACTION, VOTE_UP_ACTION

log = logging.getLogger("dockbot.handlers.feedback")

VOTE_ACTION_PATTERN = rf"^({VOTE_UP_ACTION}|{VOTE_DOWN_ACTION})$"
THANKS_UP_KO = ":+1: 알려 주셔서 고마워요! 이 답이 도움이 됐다고 기록했어요."
THANKS_DOWN_KO = ":pray: 알려 주셔서 고마워요. 관리자들이 이 답을 고칠 수 있게 기록했어요."
NOT_RECORDED_KO = "의견은 고맙지만 지금은 기록할 수 없어요 (저장소가 꺼져 있어요)."


def on_vote(ack: Any, body: dict[str, Any], action: dict[str, Any], context: Any) -> None:
    ack()
    origin = Origin.from_body(body)
    entry_id = str(action.get("value") or "")
    value = 1 if action.get("action_id") == VOTE_UP_ACTION else -1
    # The answer message identifies the vote: voting again on the same message changes it.
    message_ref = f"{origin.channel}:{origin.message_ts}" if origin.message_ts else ""
    recorded = context["brain"].vote(
        user=origin.user,
        entry_id=entry_id,
        value=value,
        message=message_ref,
        channel=origin.channel,
        conversation=origin.conversation,  # after a 👎, the entry the asker finds next may learn the question
    )
    log.info("vote %+d on %s by %s recorded=%s", value, entry_id, origin.user, recorded)
    text = (THANKS_UP_KO if value > 0 else THANKS_DOWN_KO) if recorded else NOT_RECORDED_KO
    context["messenger"].ephemeral(
        channel=origin.channel,
        user=origin.user,
        text=text,
        thread_ts=origin.thread_ts,
        response_url=origin.response_url,
    )
