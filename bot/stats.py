"""What the admins should write next: unanswered questions grouped by similarity, 👎 per entry, demo health.

The groups are bot/question_groups.py's. The report is plain data (`StatsReport`) rendered by
stats.txt.j2 for the terminal and handlers/blocks.py for Slack, or dumped as JSON. `suggest=True` adds,
for the top groups, the YAML snippets of bot/gap_snippets.py (more example questions for the entry the
matcher almost chose, or a new entry stub).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from bot.gap_snippets import Suggestion, suggest_snippets
from bot.question_groups import QuestionGroup, describe_group, group_questions, grouping_key, matcher_key

if TYPE_CHECKING:
    from bot.knowledge import KnowledgeBase
    from bot.matcher import Matcher
    from bot.store import DemoTally, Store

# Outcomes an admin should act on: nothing found, or only a low-confidence guess.
GAP_OUTCOMES = ("no_answer", "suggested")
MAX_GROUPS = 10
MAX_SUGGESTIONS = 5


@dataclass(frozen=True)
class EntryFeedback:
    entry_id: str
    title: str
    up: int
    down: int


@dataclass(frozen=True)
class TopicCount:
    entry_id: str
    title: str
    count: int


@dataclass(frozen=True)
class StatsReport:
    available: bool  # False when no store is configured or it cannot be read
    total_questions: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    groups: list[QuestionGroup] = field(default_factory=list)
    feedback: list[EntryFeedback] = field(default_factory=list)
    demos: list[DemoTally] = field(default_factory=list)
    top_topics: list[TopicCount] = field(default_factory=list)
    suggestions: list[Suggestion] | None = None
    # Suggested example questions waiting for an admin (bot/suggestions.py); listed with `suggest`.
    examples: list[dict[str, Any]] | None = None
    # Entries verified longer ago than DOCKBOT_REVIEW_DAYS, with their owners (bot/review.py).
    review_due: list[dict[str, Any]] = field(default_factory=list)

    @property
    def answered_rate(self) -> float:
        return self.outcomes.get("answered", 0) / self.total_questions if self.total_questions else 0.0

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["answered_rate"] = round(self.answered_rate, 4)
        # The store's tallies, with the rate their property gives (asdict leaves properties out).
        data["demos"] = [
            {
                **asdict(t),
                "failure_rate": round(t.failure_rate, 4),
                "avg_duration_s": round(t.avg_duration_s, 2),
            }
            for t in self.demos
        ]
        if self.suggestions is None:
            del data["suggestions"]
        if self.examples is None:
            del data["examples"]
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=2)


def build_report(
    store: Store | None,
    kb: KnowledgeBase | None,
    *,
    matcher: Matcher | None = None,
    suggest: bool = False,
    max_groups: int = MAX_GROUPS,
    max_suggestions: int = MAX_SUGGESTIONS,
    review_days: int = 180,
) -> StatsReport:
    """Read the store and describe the gaps. With `suggest`, `matcher` (the current one) proposes snippets
    and the suggested example questions waiting for approval are listed."""
    if store is None:
        return StatsReport(
            available=False, suggestions=[] if suggest else None, examples=[] if suggest else None
        )
    counts = store.outcome_counts()
    rows = [(q.text, q.outcome, q.entry_id, q.asked_at) for q in store.questions(GAP_OUTCOMES)]
    key = matcher_key(matcher) if matcher is not None else grouping_key
    groups = [describe_group(g, kb) for g in group_questions(rows, key=key)[:max_groups]]

    def title(entry_id: str) -> str:
        entry = kb.get(entry_id) if kb is not None else None
        return entry.title if entry is not None else entry_id

    feedback = [EntryFeedback(v.entry_id, title(v.entry_id), v.up, v.down) for v in store.votes_by_entry()]
    demos = store.demo_tallies()
    topics = most_asked_topics(store, kb)
    suggestions = None
    if suggest:
        suggestions = (
            suggest_snippets(groups[:max_suggestions], kb, matcher)
            if kb is not None and matcher is not None
            else []
        )
    return StatsReport(
        available=True,
        total_questions=counts.total,
        outcomes={
            "answered": counts.answered,
            "suggested": counts.suggested,
            "no_answer": counts.no_answer,
            "invalid": counts.invalid,
        },
        groups=groups,
        feedback=feedback,
        demos=demos,
        top_topics=topics,
        suggestions=suggestions,
        examples=_pending_examples(store, kb) if suggest else None,
        review_due=_review_due(kb, review_days),
    )


def _pending_examples(store: Store, kb: KnowledgeBase | None) -> list[dict[str, Any]]:
    from bot.suggestions import pending

    return [
        {
            "id": s.id,
            "entry_id": s.entry_id,
            "title": getattr(kb.get(s.entry_id) if kb is not None else None, "title", s.entry_id),
            "question": s.question,
            "reason": s.reason,
            "suggested_at": s.suggested_at,
        }
        for s in pending(store)
    ]


def _review_due(kb: KnowledgeBase | None, review_days: int) -> list[dict[str, Any]]:
    from bot.review import due_for_review

    if kb is None:
        return []
    return [
        {
            "entry_id": d.entry_id,
            "title": d.title,
            "owner": d.owner,
            "verified": str(d.verified),
            "days": d.days,
        }
        for d in due_for_review(kb, review_days=review_days)
    ]


def most_asked_topics(store: Store | None, kb: KnowledgeBase | None, limit: int = 5) -> list[TopicCount]:
    """The entries answered most often, with their titles (one small query)."""
    if store is None:
        return []
    titled = []
    for entry_id, count in store.top_entries(limit):
        entry = kb.get(entry_id) if kb is not None else None
        titled.append(TopicCount(entry_id, entry.title if entry is not None else entry_id, count))
    return titled
