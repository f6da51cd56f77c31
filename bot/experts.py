"""Ask a human: a question the bot could not answer goes to the experts' channel (DOCKBOT_EXPERTS_CHANNEL),
the asker's thread gets a pointer to the first expert reply, and an admin can turn the experts' thread into a
draft entry (bot/drafts.py) with one click. The Slack door posts; this module remembers and writes drafts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rapidfuzz import fuzz

from bot.drafts import MAX_VARIANTS, draft_yaml, write_draft

if TYPE_CHECKING:
    from bot.store import Store

# How alike an unanswered question must be to the asked one to be kept as a variant in the draft
# (rapidfuzz token_set_ratio, 0..100): rephrasings of the same question, not the same topic.
VARIANT_SIMILARITY = 70.0


@dataclass(frozen=True)
class ExpertRequest:
    id: int
    user: str  # the asker
    channel: str
    thread_ts: str  # the asker's thread ("" = none: the pointer goes to the asker's DM)
    question: str
    expert_channel: str
    expert_ts: str
    replies: str

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> ExpertRequest:
        return cls(
            id=int(row["id"]),
            user=str(row["user_id"]),
            channel=str(row["channel"]),
            thread_ts=str(row["thread_ts"] or ""),
            question=str(row["question"]),
            expert_channel=str(row["expert_channel"]),
            expert_ts=str(row["expert_ts"]),
            replies=str(row.get("replies") or ""),
        )


class ExpertDesk:
    """The memory of questions asked of humans (in the store, so every replica sees the replies)."""

    def __init__(self, store: Store, knowledge_dir: Path) -> None:
        self.store = store
        self.knowledge_dir = knowledge_dir

    def asked(
        self, *, user: str, channel: str, thread_ts: str, question: str, expert_channel: str, expert_ts: str
    ) -> int | None:
        return self.store.record_expert_request(
            user=user,
            channel=channel,
            thread_ts=thread_ts,
            question=question,
            expert_channel=expert_channel,
            expert_ts=expert_ts,
        )

    def request_of_thread(self, expert_channel: str, expert_ts: str) -> ExpertRequest | None:
        row = self.store.expert_request(expert_channel=expert_channel, expert_ts=expert_ts)
        return ExpertRequest.from_row(row) if row else None

    def request(self, request_id: int) -> ExpertRequest | None:
        row = self.store.expert_request(request_id=request_id)
        return ExpertRequest.from_row(row) if row else None

    def replied(self, request: ExpertRequest, *, user: str, text: str) -> bool:
        """Keep an expert's reply; True when it is the first (the asker gets one pointer)."""
        return self.store.record_expert_reply(request.id, user=user, text=text)

    def variants(self, question: str) -> list[str]:
        """Unanswered questions that rephrase `question`: more example questions for the draft."""
        rows = self.store.questions(("no_answer", "suggested"), limit=2000)
        alike = [
            row.text
            for row in rows
            if row.text.strip() != question.strip()
            and fuzz.token_set_ratio(row.text, question) >= VARIANT_SIMILARITY
        ]
        return list(dict.fromkeys(alike))[:MAX_VARIANTS]

    def draft(self, request: ExpertRequest, *, today: date | None = None) -> Path:
        """Write knowledge/drafts/draft-<date>-<id>.yaml from the experts' thread (never live knowledge)."""
        today = today or date.today()
        draft_id = f"draft-{today:%Y%m%d}-{request.id}"
        first_expert = request.replies.split(">", 1)[0].removeprefix("<@") if request.replies else ""
        text = draft_yaml(
            draft_id=draft_id,
            question=request.question,
            replies=request.replies,
            variants=self.variants(request.question),
            owner=first_expert,
            asked_in=f"Slack {request.expert_channel} {request.expert_ts}",
            today=today,
        )
        return write_draft(self.knowledge_dir, draft_id, text)
