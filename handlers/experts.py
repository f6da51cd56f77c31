"""Ask a human in Slack: "사람에게 물어보기" on a no-answer / low-confidence reply posts the question (with a
link back) to DOCKBOT_EXPERTS_CHANNEL; the first expert reply in that thread gets a pointer in the asker's
thread; "초안 만들기" (admins) writes the experts' thread as a draft in knowledge/drafts/ (bot/experts.py).
"""

from __future__ import annotations

import logging
from typing import Any

from bot.render import escape_mrkdwn
from handlers.payload import Origin
from handlers.slack_text import question_from_slack, quote

log = logging.getLogger("dockbot.handlers.experts")

MAKE_DRAFT_ACTION = "dockbot_make_draft"
NO_EXPERTS_KO = "전문가 채널이 설정되어 있지 않아서 사람에게 물어볼 수 없어요. 관리자에게 알려 주세요."
ASKED_KO = "🙋 <#{channel}> 채널의 사람들에게 물어봤어요. 답이 달리면 여기로 알려 드릴게요."
NOT_POSTED_KO = "전문가 채널에 질문을 올리지 못했어요. 잠시 뒤 다시 눌러 주세요."
ADMINS_ONLY_KO = "초안은 관리자(DOCKBOT_ADMINS)만 만들 수 있어요."
REQUEST_GONE_KO = "이 질문 기록을 찾을 수 없어요 (저장소가 바뀌었거나 꺼져 있어요)."
THANKS_EXPERT_KO = "답해 주셔서 고마워요! 질문한 분께 알렸어요."
MAX_QUOTE = 300


def _permalink(messenger: Any, channel: str, ts: str | None) -> str:
    """A link to a message (chat.getPermalink), or "" when Slack cannot give one."""
    if not channel or not ts:
        return ""
    try:
        resp = messenger.client.chat_getPermalink(channel=channel, message_ts=ts)
        return str(resp.get("permalink") or "")
    except Exception as exc:  # a missing link costs the link, not the request
        log.warning("chat.getPermalink in %s failed: %s", channel, type(exc).__name__)
        return ""


def on_ask_human(ack: Any, body: dict[str, Any], action: dict[str, Any], context: Any) -> None:
    ack()
    brain, messenger = context["brain"], context["messenger"]
    origin = Origin.from_body(body)
    desk, experts = brain.experts, brain.settings.experts_channel
    if desk is None:
        messenger.ephemeral(
            channel=origin.channel, user=origin.user, text=NO_EXPERTS_KO, response_url=origin.response_url
        )
        return
    question = question_from_slack(str(action.get("value") or ""), context.get("bot_user_id")).text
    link = _permalink(messenger, origin.channel, origin.message_ts)
    where = f"<{link}|원래 스레드>" if link else (f"<#{origin.channel}>" if origin.channel else "")
    text = f"🙋 <@{origin.user}> 님의 질문에 dockbot 이 답하지 못했어요. 아시는 분 이 스레드에 답해 주세요.\n"
    text += f"{quote(question)}\n" + (f"질문한 곳: {where}" if where else "")
    posted = messenger.post(channel=experts, text=text, user=origin.user)
    if posted is None or not posted.ts:
        messenger.ephemeral(
            channel=origin.channel, user=origin.user, text=NOT_POSTED_KO, response_url=origin.response_url
        )
        return
    # A private (/docker) question has no thread to point into: the pointer goes to the asker's DM.
    thread = "" if origin.ephemeral else (origin.reply_thread or "")
    desk.asked(
        user=origin.user,
        channel=origin.user if origin.ephemeral else origin.channel,
        thread_ts=thread,
        question=question,
        expert_channel=posted.channel if posted.channel.startswith(("C", "G")) else experts,
        expert_ts=posted.ts,
    )
    confirm = ASKED_KO.format(channel=experts)
    if origin.ephemeral:
        messenger.ephemeral(
            channel=origin.channel, user=origin.user, text=confirm, response_url=origin.response_url
        )
    else:
        messenger.post(channel=origin.channel, text=confirm, thread_ts=thread or None, user=origin.user)


def on_expert_reply(event: dict[str, Any], context: Any) -> bool:
    """A reply in the experts' channel. True when it was in a thread of ours (handled here)."""
    brain, messenger = context["brain"], context["messenger"]
    desk = brain.experts
    thread_ts, channel = str(event.get("thread_ts") or ""), str(event.get("channel") or "")
    request = desk.request_of_thread(channel, thread_ts) if desk is not None else None
    if request is None:
        return False
    expert, text = str(event.get("user") or ""), str(event.get("text") or "")
    if not desk.replied(request, user=expert, text=text):
        return True  # a later reply: kept for the draft, the asker was already pointed here
    link = _permalink(messenger, channel, str(event.get("ts") or ""))
    gist = escape_mrkdwn(" ".join(question_from_slack(text).text.split())[:MAX_QUOTE])
    pointer = f"<@{request.user}> 전문가 <@{expert}> 님이 답했어요"
    pointer += f": <{link}|답 보러 가기>" if link else "."
    if gist:
        pointer += f"\n> {gist}"
    messenger.post(channel=request.channel, text=pointer, thread_ts=request.thread_ts or None)
    blocks = [
        {"type": "section", "text": {"type": "mrkdwn", "text": THANKS_EXPERT_KO}},
        {
            "type": "actions",
            "block_id": "dockbot_expert_actions",
            "elements": [
                {
                    "type": "button",
                    "action_id": MAKE_DRAFT_ACTION,
                    "text": {"type": "plain_text", "text": "📝 지식 초안 만들기 (관리자)"},
                    "value": str(request.id),
                }
            ],
        },
    ]
    messenger.post(channel=channel, text="질문한 분께 알렸어요.", blocks=blocks, thread_ts=thread_ts)
    return True


def on_make_draft(ack: Any, body: dict[str, Any], action: dict[str, Any], context: Any) -> None:
    ack()
    brain, messenger = context["brain"], context["messenger"]
    origin = Origin.from_body(body)

    def tell(text: str) -> None:
        messenger.ephemeral(
            channel=origin.channel,
            user=origin.user,
            text=text,
            thread_ts=origin.thread_ts,
            response_url=origin.response_url,
        )

    if not brain.is_admin(origin.user):
        tell(ADMINS_ONLY_KO)
        return
    desk = brain.experts
    try:
        request = desk.request(int(str(action.get("value") or ""))) if desk is not None else None
    except ValueError:
        request = None
    if request is None:
        tell(REQUEST_GONE_KO)
        return
    try:
        path = desk.draft(request)
    except OSError as exc:
        log.error("writing the draft of expert request %s failed: %s", request.id, exc)
        tell("초안 파일을 쓰지 못했어요 (knowledge/drafts/ 에 쓸 수 없어요). 로그를 확인해 주세요.")
        return
    log.info("draft %s written from expert request %s by %s", path.name, request.id, origin.user)
    tell(
        f"📝 초안을 썼어요: `{escape_mrkdwn(f'{path.parent.parent.name}/{path.parent.name}/{path.name}')}`\n"
        "검토해서 다듬은 뒤 지식 파일로 옮기세요. 매처는 drafts/ 를 읽지 않아요 (`dockbot validate` 가 확인)."
    )
