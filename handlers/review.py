"""`/dockbot review` (admins): suggested example questions to approve or reject, and the entries due for
review with their owners. Approving appends the question to the entry's YAML and reloads
(bot/suggestions.py)."""

from __future__ import annotations

import logging
from typing import Any

from bot.render import escape_mrkdwn
from bot.review import due_for_review
from handlers import blocks as layout
from handlers.blockkit import fit_message
from handlers.payload import Origin
from handlers.slack_text import quote
from handlers.views import Message

log = logging.getLogger("dockbot.handlers.review")

APPROVE_ACTION = "dockbot_example_approve"
REJECT_ACTION = "dockbot_example_reject"
ACTION_PATTERN = rf"^({APPROVE_ACTION}|{REJECT_ACTION})$"
ADMINS_ONLY_KO = "예시 질문 제안은 관리자(DOCKBOT_ADMINS)만 처리할 수 있어요."
MAX_ITEMS = 12  # two blocks each: well inside a message's 50 and the Home tab's 100
MAX_DUE = 10


def review_blocks(brain: Any, *, notice: str = "") -> list[dict[str, Any]]:
    kb = brain.snapshot().kb
    waiting = brain.pending_examples()
    items = [
        {
            "id": s.id,
            "entry_id": s.entry_id,
            "title": getattr(kb.get(s.entry_id), "title", "(지워진 항목)"),
            "question": quote(s.question),
            "reason": s.reason_ko,
        }
        for s in waiting[:MAX_ITEMS]
    ]
    due = [
        {"entry_id": d.entry_id, "title": d.title, "owner": d.owner, "verified": d.verified, "days": d.days}
        for d in due_for_review(kb, review_days=brain.settings.review_days)[:MAX_DUE]
    ]
    return layout.review_blocks(
        items=items,
        total=len(waiting),
        notice=notice,
        due=due,
        approve_action=APPROVE_ACTION,
        reject_action=REJECT_ACTION,
    )


def review_message(brain: Any, *, notice: str = "") -> Message:
    blocks, text = fit_message(review_blocks(brain, notice=notice), "dockbot 예시 질문 검토")
    return Message(blocks=blocks, text=text)


def on_review_action(ack: Any, body: dict[str, Any], action: dict[str, Any], context: Any) -> None:
    ack()
    brain, messenger = context["brain"], context["messenger"]
    origin = Origin.from_body(body)
    if not brain.is_admin(origin.user):
        messenger.ephemeral(
            channel=origin.channel, user=origin.user, text=ADMINS_ONLY_KO, response_url=origin.response_url
        )
        return
    try:
        suggestion_id = int(str(action.get("value") or ""))
    except ValueError:
        suggestion_id = -1
    approve = action.get("action_id") == APPROVE_ACTION
    decision = brain.decide_example(suggestion_id, approve=approve, admin=origin.user, reload=False)
    log.info(
        "suggestion %s %s by %s: %s",
        suggestion_id,
        "approve" if approve else "reject",
        origin.user,
        "ok" if decision.ok else "refused",
    )
    notice = ("✅ " if decision.ok else "⚠️ ") + escape_mrkdwn(decision.message)
    if decision.ok and approve:
        notice += "\n지식 베이스를 다시 읽는 중이에요. 몇 초 뒤부터 이 질문에 이 항목으로 답해요."
    message = review_message(brain, notice=notice)
    if not (
        origin.response_url
        and messenger.respond(
            origin.response_url, text=message.text, blocks=message.blocks, replace_original=True
        )
    ):
        messenger.ephemeral(
            channel=origin.channel, user=origin.user, text=message.text, blocks=message.blocks
        )
    if decision.ok and approve:
        brain.reload()  # after the reply: a full reload fits the thresholds again (seconds)
