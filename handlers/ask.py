"""Questions: @mentions (answer in the question's thread), DMs (answer in the DM), `/docker 질문` (answer
only the asker sees, with a "채널에 공유" button), and the buttons that post a chosen answer.

Bolt-style listeners: they get Bolt's injected arguments and the core from `context` (brain, messenger,
recent). Events are acknowledged by Bolt before they run; commands and actions call `ack()` first.
"""

from __future__ import annotations

import logging
from typing import Any

from bot.command_words import asks_for_help
from handlers import experts
from handlers.payload import Origin
from handlers.slack_text import question_from_slack
from handlers.views import PICK_ACTION, answer_message, entry_message, help_message, notice_message

log = logging.getLogger("dockbot.handlers.ask")

PICK_ACTION_PATTERN = rf"\A{PICK_ACTION}_[0-9]{{1,3}}\Z"  # \Z: "$" also matches before a newline
EMPTY_MENTION_KO = (
    "무엇이 궁금하세요? :wave: 멘션 뒤에 질문을 적어 주세요.\n예: `@dockbot 명명된 볼륨이 뭐야?`"
)
MARKUP_ONLY_KO = (
    "멘션(@channel, @here, 사람 이름)만 있고 질문이 없어요. 궁금한 내용을 글로 적어 주세요.\n"
    "예: `@dockbot 컨테이너끼리 이름으로 통신하려면?`"
)
EMPTY_COMMAND_KO = (
    "`/docker` 뒤에 질문을 적어 주세요. 예: `/docker 명명된 볼륨이 뭐야?` (도움말: `/dockbot help`)"
)
ENTRY_GONE_KO = "그 답변은 지식 베이스에서 바뀌었거나 사라졌어요. 질문을 다시 해 주세요."
SHARED_KO = ":white_check_mark: 채널에 공유했어요."

# Subtypes that are still a person writing a new message; everything else (edits, deletes, joins, bots…)
# is ignored so that the bot never loops or answers twice.
_ANSWERABLE_SUBTYPES = frozenset({None, "", "file_share", "thread_broadcast"})


def _help(context: Any, user: str) -> Any:
    brain = context["brain"]
    demos = brain.demos.scenarios() if brain.demos is not None else []
    return help_message(is_admin=brain.is_admin(user), demos=demos)


def _is_from_a_person(event: dict[str, Any], bot_user_id: str | None) -> bool:
    if event.get("subtype") not in _ANSWERABLE_SUBTYPES:
        return False
    if event.get("bot_id") or event.get("bot_profile"):
        return False
    user = event.get("user")
    return bool(user) and user != bot_user_id


def _not_answered(body: dict[str, Any], reason: str, *, a_user_may_wonder: bool = False) -> None:
    """One line per event the bot decided not to answer (ids only): what "nothing happened" looks like.
    Routine ignores (its own and other bots' posts, edits, joins, chatter) are DEBUG: every answer in a DM
    comes back as one. INFO only where someone may ask why the bot stayed quiet."""
    level = logging.INFO if a_user_may_wonder else logging.DEBUG
    log.log(level, "event %s not answered: %s", body.get("event_id") or "-", reason)


def _answer_event(
    event: dict[str, Any], body: dict[str, Any], context: Any, *, thread_ts: str | None, source: str
) -> None:
    recent = context["recent"]
    # One message can reach us twice under different event ids (app_mention + message.im): answer it once.
    if not recent.first_time(f"message:{event.get('channel')}:{event.get('ts')}"):
        _not_answered(body, "the same message was answered under another event id", a_user_may_wonder=True)
        return
    brain, messenger = context["brain"], context["messenger"]
    channel, user = str(event.get("channel") or ""), str(event.get("user") or "")
    question = question_from_slack(str(event.get("text") or ""), context.get("bot_user_id"))
    if not question.text:
        message = notice_message(MARKUP_ONLY_KO if question.only_markup else EMPTY_MENTION_KO)
    elif asks_for_help(question.text):
        message = _help(context, user)
    else:
        origin = Origin(channel=channel, user=user, thread_ts=thread_ts, message_ts=event.get("ts"))
        snapshot = brain.snapshot()
        answer = brain.ask(
            question.text,
            user=user,
            channel=channel,
            source=source,
            conversation=origin.conversation,
            snapshot=snapshot,
        )
        message = answer_message(
            answer,
            kb=snapshot.kb,
            broadcast_note=question.had_broadcast,
            recorded=brain.store is not None,
            ask_human=brain.experts is not None,
        )
    messenger.post(channel=channel, user=user, text=message.text, blocks=message.blocks, thread_ts=thread_ts)


def on_mention(event: dict[str, Any], body: dict[str, Any], context: Any) -> None:
    """@dockbot in a channel: answer in the thread of the question."""
    if not _is_from_a_person(event, context.get("bot_user_id")):
        # Someone's workflow or bot mentioned dockbot and got nothing: worth a line an operator sees.
        _not_answered(body, "a mention that is not a person's new message", a_user_may_wonder=True)
        return
    thread_ts = event.get("thread_ts") or event.get("ts")
    _answer_event(event, body, context, thread_ts=thread_ts, source="slack_mention")


def on_message(event: dict[str, Any], body: dict[str, Any], context: Any) -> None:
    """Message events: DMs to the bot, and (with message.channels / message.groups) replies without a
    mention in a thread the bot answered: follow-ups. Mentions arrive as app_mention, answered there."""
    bot_user_id = context.get("bot_user_id")
    if not _is_from_a_person(event, bot_user_id):
        _not_answered(body, "not a person's new message")
        return
    if event.get("channel_type") == "im":
        _answer_event(event, body, context, thread_ts=event.get("thread_ts"), source="slack_dm")
        return
    thread_ts = event.get("thread_ts")
    if not thread_ts or thread_ts == event.get("ts"):
        _not_answered(body, "top-level channel message")  # chatter, not for the bot
        return
    if bot_user_id and f"<@{bot_user_id}" in str(event.get("text") or ""):
        _not_answered(body, "a mention: its app_mention event answers it")
        return
    brain = context["brain"]
    if event.get("channel") == brain.settings.experts_channel and experts.on_expert_reply(event, context):
        return  # an expert answering a question we posted (handlers/experts.py)
    origin = Origin(channel=str(event.get("channel") or ""), thread_ts=thread_ts)
    if brain.conversations.topic(origin.conversation) is None:
        # A thread the bot has not answered in (or long ago): people talking among themselves.
        _not_answered(body, "a thread the bot is not in")
        return
    _answer_event(event, body, context, thread_ts=thread_ts, source="slack_thread")


def on_docker_command(ack: Any, command: dict[str, Any], context: Any) -> None:
    """`/docker 질문`: an answer only the asker sees, with a button to share it in the channel."""
    ack()
    brain, messenger = context["brain"], context["messenger"]
    origin = Origin.from_body(command)
    question = question_from_slack(str(command.get("text") or ""), context.get("bot_user_id"))
    if not question.text:
        message = notice_message(MARKUP_ONLY_KO if question.only_markup else EMPTY_COMMAND_KO)
    elif asks_for_help(question.text):
        message = _help(context, origin.user)
    else:
        snapshot = brain.snapshot()
        answer = brain.ask(
            question.text,
            user=origin.user,
            channel=origin.channel,
            source="slack_command",
            snapshot=snapshot,
        )
        message = answer_message(
            answer,
            kb=snapshot.kb,
            ephemeral=True,
            broadcast_note=question.had_broadcast,
            recorded=brain.store is not None,
            ask_human=brain.experts is not None,
        )
    messenger.ephemeral(
        channel=origin.channel,
        user=origin.user,
        text=message.text,
        blocks=message.blocks,
        response_url=origin.response_url,
    )


def _entry_from_button(action: dict[str, Any], kb: Any) -> Any:
    return kb.get(str(action.get("value") or ""))


def on_share(ack: Any, body: dict[str, Any], action: dict[str, Any], context: Any) -> None:
    """ "채널에 공유" on an ephemeral answer: post it for everyone, then mark the private copy as shared."""
    ack()
    messenger = context["messenger"]
    origin = Origin.from_body(body)
    kb = context["brain"].snapshot().kb
    entry = _entry_from_button(action, kb)
    if entry is None:
        messenger.ephemeral(
            channel=origin.channel, user=origin.user, text=ENTRY_GONE_KO, response_url=origin.response_url
        )
        return
    message = entry_message(entry, kb=kb, shared_by=origin.user)
    posted = messenger.post(
        channel=origin.channel,
        user=origin.user,
        text=message.text,
        blocks=message.blocks,
        response_url=origin.response_url,
    )
    if posted is not None and posted.ts and origin.response_url:
        messenger.respond(origin.response_url, text=SHARED_KO, replace_original=True)


def on_pick(ack: Any, body: dict[str, Any], action: dict[str, Any], context: Any) -> None:
    """A suggestion or related-entry button: post that answer where the question was asked."""
    ack()
    brain, messenger = context["brain"], context["messenger"]
    origin = Origin.from_body(body)
    kb = brain.snapshot().kb
    entry = _entry_from_button(action, kb)
    if entry is None:
        messenger.ephemeral(
            channel=origin.channel, user=origin.user, text=ENTRY_GONE_KO, response_url=origin.response_url
        )
        return
    if origin.ephemeral:
        # The question was private (/docker): keep the chosen answer private too, in place of the suggestions.
        message = entry_message(entry, kb=kb, ephemeral=True)
        if origin.response_url and messenger.respond(
            origin.response_url, text=message.text, blocks=message.blocks, replace_original=True
        ):
            return
        messenger.ephemeral(
            channel=origin.channel, user=origin.user, text=message.text, blocks=message.blocks
        )
        return
    brain.picked(entry.id, conversation=origin.conversation)  # the chosen answer is the thread's topic
    message = entry_message(entry, kb=kb)
    messenger.post(
        channel=origin.channel,
        user=origin.user,
        text=message.text,
        blocks=message.blocks,
        thread_ts=origin.reply_thread,
        response_url=origin.response_url,
    )
