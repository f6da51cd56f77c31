"""The one core behind every door: the terminal chat, the CLI and the Slack app all talk to a Brain.

A Brain owns the live knowledge base (hot-swappable), the demo service and the store. Doors call its
methods and render the results; they never reach past it to YAML, SQL or the docker SDK.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bot.config import Settings

if TYPE_CHECKING:
    from bot.conversation import Conversations, Topic
    from bot.deliveries import FirstTime
    from bot.demos.scenario import Scenario
    from bot.demos.service import DemoService
    from bot.experts import ExpertDesk
    from bot.live_knowledge import LiveKnowledge, ReloadResult, Snapshot
    from bot.matcher import Answer
    from bot.reloader import KnowledgeReloader, Notify
    from bot.report_cache import CachedValue
    from bot.stats import StatsReport, TopicCount
    from bot.store import Store
    from bot.suggestions import Decision, SuggestedExample

log = logging.getLogger(__name__)


@dataclass
class Brain:
    settings: Settings
    knowledge: LiveKnowledge
    demos: DemoService | None = None
    store: Store | None = None
    reloader: KnowledgeReloader | None = field(default=None, repr=False)
    # Bumped whenever something is recorded or reloaded: cached reports built before it are rebuilt.
    data_generation: int = field(default=0, init=False, repr=False)
    _report: CachedValue[StatsReport] | None = field(default=None, init=False, repr=False)
    _topics: CachedValue[list[TopicCount]] | None = field(default=None, init=False, repr=False)

    conversations: Conversations | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.conversations is None:
            from bot.conversation import Conversations

            # Topics live in the store when there is one (replicas share threads), else in this process.
            self.conversations = Conversations(self.store)

    def ask(
        self,
        text: str,
        *,
        user: str = "",
        channel: str = "",
        source: str = "cli",
        conversation: str | None = None,
        snapshot: Snapshot | None = None,
    ) -> Answer:
        """Answer one question with the knowledge base as it is now (one snapshot for the whole question).

        `conversation` (a Slack thread, a DM, a chat session) makes a follow-up such as "그럼 익명인 건?" read
        with the topic of that conversation (bot/conversation.py); without it every question stands alone.
        A door that renders the answer passes the `snapshot()` it renders with, so both are one version."""
        from bot.conversation import resolve

        snapshot = snapshot or self.knowledge.current
        conversations = self.conversations
        topic = conversations.topic(conversation) if conversations is not None else None
        answer = resolve(snapshot.matcher, snapshot.kb, text, topic)
        if self.store is not None:
            # Queued for the store's writer thread: the reply never waits for the database.
            self.store.submit_question(answer, user=user, channel=channel, source=source)
            self.data_changed()
        if conversations is not None and conversation:
            if answer.outcome == "answered" and answer.match is not None:
                self._learned(topic, answer.match.entry.id, picked=False)
                conversations.remember(conversation, answer.match.entry.id, text)
            elif answer.outcome == "suggested":
                conversations.hold(conversation, text, reason="picked")
        return answer

    def _learned(self, topic: Topic | None, entry_id: str, *, picked: bool) -> None:
        """The conversation's pending question found its entry: propose it as an example (bot/suggestions.py);
        nothing is learned before an admin approves it."""
        if self.store is None or topic is None or not topic.pending:
            return
        after_downvote = topic.pending_reason == "after_downvote" and entry_id != topic.entry_id
        if after_downvote or (picked and topic.pending_reason == "picked"):
            reason = "after_downvote" if after_downvote else "picked"
            if self.store.suggest_example(entry_id=entry_id, question=topic.pending, reason=reason):
                log.info("suggested example for %s (%s)", entry_id, reason)

    def data_changed(self) -> None:
        """Something new is in the store (or the knowledge base changed): cached reports are out of date."""
        self.data_generation += 1

    @property
    def experts(self) -> ExpertDesk | None:
        """Ask a human (bot/experts.py): needs DOCKBOT_EXPERTS_CHANNEL and a store to remember requests."""
        if self.store is None or not self.settings.experts_channel:
            return None
        from bot.experts import ExpertDesk

        return ExpertDesk(self.store, self.settings.knowledge_dir)

    def picked(self, entry_id: str, *, conversation: str | None = None) -> None:
        """The asker chose `entry_id` among suggestions or related entries: it becomes the thread's topic."""
        if self.conversations is not None and conversation:
            self._learned(self.conversations.topic(conversation), entry_id, picked=True)
            self.conversations.remember(conversation, entry_id, "")

    def deliveries(self, local: FirstTime) -> FirstTime:
        """Who answers a Slack delivery: with a database shared by replicas, the first replica to claim it
        there (`local`, this process's own memory, decides while the database cannot); else `local`."""
        if self.store is None or not self.store.shared:
            return local
        from bot.deliveries import SharedDeliveries

        return SharedDeliveries(self.store, local)

    # ---- the admins' loop (bot/reloader.py, bot/store.py, bot/stats.py) ----------------------------

    def is_admin(self, user: str) -> bool:
        """Only DOCKBOT_ADMINS may reload the knowledge base and read stats."""
        return bool(user) and user in self.settings.admins

    def snapshot(self) -> Snapshot:
        """The knowledge as it is now. A door takes one per request and reads only it (entries, titles,
        scenarios), so a reload in the middle cannot mix two versions in one reply."""
        return self.knowledge.current

    def demos_allowed_in(self, channel: str) -> bool:
        """DOCKBOT_DEMO_CHANNELS: where demos may run (none set: everywhere)."""
        allowed = self.settings.demo_channels
        return not allowed or channel in allowed

    def _knowledge_reloader(self) -> KnowledgeReloader:
        if self.reloader is None:
            from bot.reloader import KnowledgeReloader

            self.reloader = KnowledgeReloader(self.knowledge, self.settings.knowledge_dir)
        return self.reloader

    def pending_examples(self) -> list[SuggestedExample]:
        """Suggested example questions waiting for an admin (bot/suggestions.py)."""
        from bot.suggestions import pending

        return pending(self.store) if self.store is not None else []

    def decide_example(
        self, suggestion_id: int, *, approve: bool, admin: str, reload: bool = True
    ) -> Decision:
        """Approve (append to the entry's YAML, validated, then reloaded) or reject a suggested example.
        `reload=False`: the caller reloads (after telling the admin; a full reload takes seconds)."""
        from bot.suggestions import Decision, decide

        if self.store is None:
            return Decision(False, "저장소(DOCKBOT_DB)가 없어서 제안을 처리할 수 없어요.")
        decision = decide(
            self.store, self.settings.knowledge_dir, suggestion_id, approve=approve, admin=admin
        )
        if decision.ok and approve and reload:
            self.reload()  # the watcher would too; answering with it right away is what the admin expects
        return decision

    def reload(self) -> ReloadResult:
        """Reload knowledge/ now (`/dockbot reload`); a bad edit keeps the last good knowledge serving."""
        result = self._knowledge_reloader().reload("command")
        self.data_changed()  # titles and entries in the report come from the knowledge base
        return result

    def start_watching(self, notify: Notify | None = None, *, force_polling: bool = False) -> None:
        """Hot-reload knowledge/ on every edit; `notify(text)` tells the admins about broken/fixed edits."""
        reloader = self._knowledge_reloader()
        reloader.notify = notify
        reloader.force_polling = force_polling
        reloader.start()

    def stop_watching(self) -> None:
        if self.reloader is not None:
            self.reloader.stop()

    def stats(self, *, suggest: bool = False) -> StatsReport:
        """Unanswered question groups, 👎 per entry, demo health (admins only: check is_admin first)."""
        from bot.stats import build_report

        started = time.perf_counter()
        if self.store is not None:
            # Records are written after the reply by the store's writer: let what was submitted land first,
            # so the report (and its cache, keyed by data_generation) includes it.
            self.store.flush(timeout=1.0)
        snapshot = self.knowledge.current
        report = build_report(
            self.store,
            snapshot.kb,
            matcher=snapshot.matcher,
            suggest=suggest,
            review_days=self.settings.review_days,
        )
        # The costly read of the store (every unanswered question grouped): each build is logged.
        log.info("stats report built in %.0f ms", (time.perf_counter() - started) * 1000)
        return report

    def cached_stats(self) -> StatsReport:
        """`stats()` built at most once per change of the data (or per minute): for the App Home tab."""
        if self._report is None:
            from bot.report_cache import CachedValue

            self._report = CachedValue(self.stats)
        return self._report.get(self.data_generation)

    def top_topics(self) -> list[TopicCount]:
        """The most answered entries (everyone's App Home tab): one small query a minute at most."""
        if self._topics is None:
            from bot.report_cache import CachedValue
            from bot.stats import most_asked_topics

            self._topics = CachedValue(lambda: most_asked_topics(self.store, self.knowledge.current.kb))
        return self._topics.get(0)  # new questions barely move a top 5: the TTL alone refreshes it

    def vote(
        self,
        *,
        user: str,
        entry_id: str,
        value: int,
        message: str = "",
        channel: str = "",
        conversation: str | None = None,
    ) -> bool:
        """Record 👍 (1) / 👎 (-1): one vote per user per answer message; a new vote replaces the old.
        After a 👎 the conversation's question waits for the entry the asker finds next."""
        if self.store is None or self.knowledge.current.kb.get(entry_id) is None:
            return False  # only entries of the knowledge base can be voted on
        topic = self.conversations.topic(conversation) if self.conversations and conversation else None
        if self.conversations and value == -1 and topic and topic.entry_id == entry_id and topic.question:
            self.conversations.hold(conversation, topic.question, reason="after_downvote")
        recorded = self.store.submit_vote(
            user=user, entry_id=entry_id, value=value, message=message, channel=channel
        )
        self.data_changed()
        return recorded

    def record_demo(self, run: Any, *, user: str, channel: str) -> None:
        """Audit a finished demo run (a DemoRun): who, where, which scenario, result, duration, error."""
        if self.store is None:
            return
        try:
            self.store.submit_demo(
                user=user,
                channel=channel,
                scenario=str(run.demo),
                ok=bool(run.ok),
                duration_s=float(run.duration_s or 0.0),
                error=run.error,
            )
            self.data_changed()
        except Exception:  # the audit must never break the demo reply
            log.exception("could not audit demo run")


def build_brain(
    settings: Settings | None = None,
    *,
    with_demos: bool = True,
    with_store: bool = True,
    serving: bool = False,
    quick: bool = False,
) -> Brain:
    """The one place that builds the parts, for every door (chat, ask, serve; demo and gc use
    `build_demo_service` below). Demos and the store are optional so `dockbot ask` stays light.
    serving=True (`dockbot serve`, `dockbot chat`): on an empty model cache answer at once and train in
    the background;
    quick=True (one `dockbot ask`): a provisional threshold fit on an empty cache (bot/thresholds.py)."""
    from bot.live_knowledge import LiveKnowledge

    settings = settings or Settings.from_env()
    if serving:
        knowledge = LiveKnowledge.load_serving(settings.knowledge_dir)
    else:
        knowledge = LiveKnowledge.load(settings.knowledge_dir, quick=quick)
    demos = None
    if with_demos:
        # Scenarios come from the live knowledge base, so a reload also updates the demos.
        demos = build_demo_service(settings, lambda: knowledge.current.kb.scenarios)
    store = None
    if with_store and settings.db_target is not None:
        from bot.database import open_store

        store = open_store(settings.db_target, retention_days=settings.retention_days, background_writes=True)
    if demos is not None and store is not None and store.shared:
        demos.share_slots(store)  # the cap and one-demo-per-user across replicas, and the lease sweeper
    return Brain(settings=settings, knowledge=knowledge, demos=demos, store=store)


def build_demo_service(
    settings: Settings, scenarios: Callable[[], Mapping[str, Scenario]], *, one_at_a_time: bool = False
) -> DemoService:
    """The demo engine over `scenarios`. `one_at_a_time`: the terminal's `dockbot demo`/`gc`, one process
    for one person (the cap, leases and sweeps are for the shared bot)."""
    from bot.demos.service import DemoService, platforms_from_settings

    if one_at_a_time:
        return DemoService(
            scenarios,
            image=settings.demo_image,
            max_concurrent=1,
            hosts=settings.docker_hosts,
            platforms=platforms_from_settings(settings),
        )
    return DemoService(
        scenarios,
        image=settings.demo_image,
        max_concurrent=settings.max_concurrent_demos,
        hosts=settings.docker_hosts,
        lease_s=settings.demo_lease_s,
        sweep_every_s=settings.demo_sweep_s,
        platforms=platforms_from_settings(settings),
    )
