"""`/dockbot help | reload | stats | review`: help for everyone; the rest for DOCKBOT_ADMINS only."""

from __future__ import annotations

import logging
from typing import Any

from bot.render import render_text
from handlers.payload import Origin
from handlers.views import help_message, notice_message, stats_message, text_message

log = logging.getLogger("dockbot.handlers.admin")

ADMIN_ONLY_KO = (
    ":lock: 죄송해요, `/dockbot {sub}` 은 관리자만 쓸 수 있어요. 필요하면 관리자에게 부탁해 주세요. "
    "누구나 쓸 수 있는 명령은 `/dockbot help` 에 있어요."
)
NO_STORE_KO = "통계를 보려면 저장소(DOCKBOT_DB)가 필요해요. 지금은 기록하지 않고 있어요."


def on_dockbot_command(ack: Any, command: dict[str, Any], context: Any) -> None:
    ack()
    brain, messenger = context["brain"], context["messenger"]
    origin = Origin.from_body(command)
    words = str(command.get("text") or "").split()
    sub = words[0].lower() if words else "help"
    is_admin = brain.is_admin(origin.user)
    if sub in ("reload", "stats", "review") and not is_admin:
        log.info("non-admin %s asked for /dockbot %s", origin.user, sub)
        message = notice_message(ADMIN_ONLY_KO.format(sub=sub))
    elif sub == "reload":
        result = brain.reload()
        kind = "broken" if not result.ok else ("reloaded" if result.changed else "unchanged")
        entries = len(brain.snapshot().kb.entries)
        message = text_message(render_text("reload.txt.j2", kind=kind, result=result, entries=entries))
    elif sub == "review":
        from handlers.review import review_message

        message = review_message(brain)
    elif sub == "stats":
        message = stats_message(brain.stats()) if brain.store is not None else notice_message(NO_STORE_KO)
    else:
        demos = brain.demos.scenarios() if brain.demos is not None else []
        message = help_message(is_admin=is_admin, demos=demos)
    messenger.ephemeral(
        channel=origin.channel,
        user=origin.user,
        text=message.text,
        blocks=message.blocks,
        response_url=origin.response_url,
    )
