"""The one core behind every door: the terminal chat, the CLI and the Slack app all talk to a Brain.

A Brain owns the live knowledge base (hot-swappable), the demo service and the store. Doors call its
methods and render the results; they never reach past it to YAML, SQL or the docker SDK.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.config import Settings

if TYPE_CHECKING:
    from bot.demos.service import DemoService
    from bot.live_knowledge import LiveKnowledge
    from bot.matcher import Answer
    from bot.store import Store

log = logging.getLogger(__name__)


@dataclass
class Brain:
    settings: Settings
    knowledge: LiveKnowledge
    demos: DemoService | None = None
    store: Store | None = None

    def ask(self, text: str, *, user: str = "", channel: str = "", source: str = "cli") -> Answer:
        """Answer one question with the knowledge base as it is now (one snapshot for the whole question)."""
        answer = self.knowledge.current.matcher.match(text)
        if self.store is not None:
            # The store never stops the bot answering: it logs and swallows its own failures.
            self.store.record_question(answer, user=user, channel=channel, source=source)
        return answer


def build_brain(settings: Settings | None = None, *, with_demos: bool = True, with_store: bool = True) -> Brain:
    """Wire a Brain from the environment. Demos and the store are optional so `dockbot ask` stays light."""
    from bot.live_knowledge import LiveKnowledge

    settings = settings or Settings.from_env()
    knowledge = LiveKnowledge.load(settings.knowledge_dir)
    demos = None
    if with_demos:
        from bot.demos.service import DemoService

        demos = DemoService.from_settings(settings, knowledge)
    store = None
    if with_store and settings.db_path is not None:
        from bot.store import Store

        store = Store.open(settings.db_path, retention_days=settings.retention_days)
    return Brain(settings=settings, knowledge=knowledge, demos=demos, store=store)
