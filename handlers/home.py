"""The App Home tab: demos anyone can run and the most asked topics; for admins, the stats summary."""

from __future__ import annotations

import logging
from typing import Any

from handlers.blocks import home_blocks, stats_blocks

log = logging.getLogger("dockbot.handlers.home")

# A Home view holds at most 100 blocks; the stats part gets what the public part leaves.
MAX_HOME_BLOCKS = 100
PUBLIC_BLOCKS = 8


def home_view(brain: Any, user: str) -> dict[str, Any]:
    """The Home view for `user` (admins see the stats summary too)."""
    is_admin = brain.is_admin(user)
    if brain.demos is not None:
        scenarios = brain.demos.scenarios()
    else:
        scenarios = sorted(brain.snapshot().kb.scenarios.values(), key=lambda s: s.name)
    demos = [{"name": s.name, "title": s.title} for s in scenarios]
    admin_blocks: list[dict[str, Any]] = []
    if is_admin:
        # The report is cached until new data arrives; everyone else never builds it (one small query).
        report = brain.cached_stats()
        topics = report.top_topics
        # The stats message without its own header: the Home tab puts one above it.
        admin_blocks = [b for b in stats_blocks(report, max_groups=5) if b.get("type") != "header"][
            : MAX_HOME_BLOCKS - PUBLIC_BLOCKS - 2
        ]
    else:
        topics = brain.top_topics()
    blocks = home_blocks(
        demos=demos,
        demo_channels=sorted(brain.settings.demo_channels),
        topics=topics,
        is_admin=is_admin,
        stats_blocks=admin_blocks,
    )
    return {"type": "home", "blocks": blocks[:MAX_HOME_BLOCKS]}


def on_home_opened(ack: Any, event: dict[str, Any], client: Any, context: Any) -> None:
    ack()
    if event.get("tab", "home") != "home":
        return  # the Messages tab: nothing to publish
    user = str(event.get("user") or "")
    try:
        client.views_publish(user_id=user, view=home_view(context["brain"], user))
    except Exception:  # a failed Home refresh must not raise into Bolt: the next open tries again
        log.exception("views.publish of the Home tab for %s failed", user)
