"""Answers that stay true: entries carry `owner:` and `verified: YYYY-MM-DD`; past DOCKBOT_REVIEW_DAYS an
entry is due for review. `dockbot validate` warns, stats and App Home list them with their owners."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from bot.knowledge import Entry, KnowledgeBase
from bot.yamlfile import Problem


@dataclass(frozen=True)
class ReviewDue:
    entry_id: str
    title: str
    owner: str | None
    verified: date | None  # None: never verified
    days: int | None  # days since verified
    path: str
    line: int


def due_for_review(kb: KnowledgeBase, *, review_days: int, today: date | None = None) -> list[ReviewDue]:
    """Entries verified more than review_days ago, oldest first; entries never verified are not listed here
    (see `unverified`): a knowledge base adopting owners gets one line, not a warning per entry."""
    today = today or date.today()
    due = []
    for entry in kb.entries:
        if entry.verified is None:
            continue
        days = (today - entry.verified).days
        if days > review_days:
            due.append(_due(entry, days))
    return sorted(due, key=lambda d: (d.verified or date.min, d.entry_id))


def unverified(kb: KnowledgeBase) -> list[str]:
    """Ids of entries without a `verified:` date."""
    return [e.id for e in kb.entries if e.verified is None]


def review_warnings(kb: KnowledgeBase, *, review_days: int, today: date | None = None) -> list[Problem]:
    """One `path:line: warning: ...` per entry due for review (validate prints them; they don't fail it)."""
    return [
        Problem(
            d.path,
            d.line,
            f"warning: '{d.entry_id}' was last verified {d.verified} ({d.days} days ago, more than "
            f"DOCKBOT_REVIEW_DAYS={review_days}): check it and update verified:"
            + (f" (owner: {d.owner})" if d.owner else " (no owner: add owner:)"),
        )
        for d in due_for_review(kb, review_days=review_days, today=today)
    ]


def last_checked_label(entry: Entry) -> str:
    """ "마지막 확인: 2026-12" under an answer, or "" when the entry was never verified."""
    return f"마지막 확인: {entry.verified:%Y-%m}" if entry.verified is not None else ""


def _due(entry: Entry, days: int) -> ReviewDue:
    return ReviewDue(entry.id, entry.title, entry.owner, entry.verified, days, entry.path, entry.line)
