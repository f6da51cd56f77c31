"""`/demo NAME` and the "데모 실행" buttons: a live demo in one message, edited as each step finishes.

The listener only acknowledges, checks the channel and hands the run to the DemoService, whose own worker pool
runs it (never Bolt's listener threads); the DemoService refuses at once when the name is unknown, the host
is busy or the engine is down. A user picks a scenario by name only: nothing typed is ever run.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from bot.command_words import asks_for_demo_list
from bot.demos.errors import DemoBusy, DemoError, UnknownDemo
from bot.demos.result import DemoRun
from handlers.demo_progress import DemoProgress, EditPacer
from handlers.payload import Origin
from handlers.slack_text import quote
from handlers.views import RUN_DEMO_ACTION, demo_list_message, demo_message, notice_message

log = logging.getLogger("dockbot.handlers.demo")

RUN_DEMO_ACTION_PATTERN = rf"\A{RUN_DEMO_ACTION}(?:_[0-9]{{1,3}})?\Z"  # \Z: "$" also matches before a newline
NO_DEMOS_KO = "이 dockbot 에서는 데모를 쓸 수 없어요 (데모 엔진이 꺼져 있어요). 관리자에게 문의해 주세요."
CRASH_KO = (
    "데모를 실행하는 중에 예기치 못한 문제가 생겼어요. 만든 컨테이너는 정리했어요. "
    "잠시 뒤에 다시 시도해 주세요."
)

# One budget for every live demo message of this process (chat.update ~50/min per workspace).
PACER = EditPacer()
# Seconds between two edits of one message (Slack asks for about one update per second per message);
# handlers/app.py puts the configured value in context["demo_edit_interval_s"].
MIN_EDIT_INTERVAL_S = 1.0

# Live demo messages whose final edit has not been sent yet: shutdown waits for them (wait_for_final_edits),
# so a demo stopped by SIGTERM ends as "중단됨" in Slack instead of stuck at "2/6 단계".
_live: set[DemoProgress] = set()
_live_lock = threading.Lock()


def wait_for_final_edits(timeout_s: float) -> int:
    """Wait (up to `timeout_s` in all) until every live demo message got its final edit; returns how many
    did not. Call after the DemoService stopped its runs."""
    deadline = time.monotonic() + timeout_s
    with _live_lock:
        pending = list(_live)
    for progress in pending:
        progress.done.wait(max(deadline - time.monotonic(), 0.0))
    return sum(1 for progress in pending if not progress.done.is_set())


def _track(progress: DemoProgress) -> None:
    with _live_lock:
        _live.difference_update([p for p in _live if p.done.is_set()])
        _live.add(progress)


def _not_here_ko(context: Any) -> str:
    channels = ", ".join(f"<#{c}>" for c in sorted(context["brain"].settings.demo_channels))
    return f":no_entry: 이 채널에서는 데모를 실행할 수 없어요. 데모는 {channels} 에서 실행해 주세요."


def _show_list(context: Any, origin: Origin, *, notice: str = "") -> None:
    demos = context["brain"].demos
    message = demo_list_message(
        demos.scenarios(), notice=notice, can_run_here=context["brain"].demos_allowed_in(origin.channel)
    )
    context["messenger"].ephemeral(
        channel=origin.channel,
        user=origin.user,
        text=message.text,
        blocks=message.blocks,
        response_url=origin.response_url,
    )


def _tell(context: Any, origin: Origin, text: str) -> None:
    message = notice_message(text)
    context["messenger"].ephemeral(
        channel=origin.channel,
        user=origin.user,
        text=message.text,
        blocks=message.blocks,
        response_url=origin.response_url,
    )


def start_demo(
    name: str, origin: Origin, context: Any, *, thread_ts: str | None = None
) -> DemoProgress | None:
    """Check, submit and post the live message; None when refused (the user was told why)."""
    brain = context["brain"]
    if brain.demos is None:
        _tell(context, origin, NO_DEMOS_KO)
        return None
    if not context["brain"].demos_allowed_in(origin.channel):
        _tell(context, origin, _not_here_ko(context))
        return None
    try:
        scenario = brain.demos.get(name)
    except UnknownDemo:
        _show_list(
            context,
            origin,
            notice=f":question: `{quote(name, 60)}` 라는 데모는 없어요. 아래에서 골라 주세요.",
        )
        return None
    title, total = scenario.title, len(scenario.steps)

    def render(run: Any) -> Any:
        return demo_message(run, name=scenario.name, title=title, user=origin.user, total_steps=total)

    def crashed(so_far: Any) -> DemoRun:
        steps = list(getattr(so_far, "steps", None) or [])
        return DemoRun(
            demo=scenario.name,
            title=title,
            ok=False,
            steps=steps,
            error=CRASH_KO,
            finished=True,
            total_steps=total,
        )

    progress = DemoProgress(
        context["messenger"],
        render,
        channel=origin.channel,
        user=origin.user,
        thread_ts=thread_ts,
        response_url=origin.response_url,
        pacer=PACER,
        min_interval_s=context.get("demo_edit_interval_s") or MIN_EDIT_INTERVAL_S,
        on_finished=lambda run: (
            None if run is None else brain.record_demo(run, user=origin.user, channel=origin.channel)
        ),
        on_crash=crashed,
    )
    try:
        future = brain.demos.submit(
            scenario.name, user=origin.user, channel=origin.channel, on_progress=progress.on_progress
        )
    except UnknownDemo:  # removed by a reload a moment ago
        _show_list(context, origin, notice=f":question: `{quote(name, 60)}` 라는 데모는 없어요.")
        return None
    except DemoError as exc:  # busy host, this user already running one, engine down: a friendly refusal
        log.info("demo %s refused for user=%s: %s", scenario.name, origin.user, exc)
        icon = ":hourglass:" if isinstance(exc, DemoBusy) else ":warning:"
        _tell(context, origin, f"{icon} {exc.message_ko}")
        return None
    _track(progress)
    progress.start()
    future.add_done_callback(progress.finish)
    return progress


def on_demo_command(ack: Any, command: dict[str, Any], context: Any) -> None:
    """`/demo`, `/demo list` → the list (only the asker sees it); `/demo NAME` → run it here, live."""
    ack()
    origin = Origin.from_body(command)
    name = " ".join(str(command.get("text") or "").split()).lower()
    if context["brain"].demos is None:
        _tell(context, origin, NO_DEMOS_KO)
        return
    if asks_for_demo_list(name):
        _show_list(context, origin)
        return
    start_demo(name, origin, context)


def on_demo_button(ack: Any, body: dict[str, Any], action: dict[str, Any], context: Any) -> None:
    """ "▶ 데모 실행" on an answer (or the demo list): run it where the answer is (its thread in channels)."""
    ack()
    origin = Origin.from_body(body)
    name = str(action.get("value") or "")
    start_demo(name, origin, context, thread_ts=None if origin.ephemeral else origin.reply_thread)
