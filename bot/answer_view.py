"""An Answer as terminal text (`dockbot chat`, `dockbot ask`), with the entries a reader can open next.

Related entries and suggestions are shown by title and numbered; the chat door opens the entry whose
number is typed next (the Slack door shows the same entries as buttons, handlers/views.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.matcher import Answer, Match
from bot.render import render_text

if TYPE_CHECKING:
    from bot.knowledge import Entry, KnowledgeBase

MAX_PICKS = 5  # as many as the Slack door shows buttons


def pickable_entries(answer: Answer, kb: KnowledgeBase | None) -> list[Entry]:
    """What to offer next: the answered entry's related entries (resolved via `kb`), or the suggestions."""
    if answer.match is not None:
        if kb is None:
            return []
        found = (kb.get(entry_id) for entry_id in answer.match.entry.related)
        entries = [entry for entry in found if entry is not None]
    else:
        entries = [m.entry for m in answer.alternatives]
    unique = {entry.id: entry for entry in entries}
    return list(unique.values())[:MAX_PICKS]


def answer_text(answer: Answer, kb: KnowledgeBase | None = None, *, can_pick: bool = False) -> str:
    """`can_pick`: the reader can type a number to open a listed entry (the chat door)."""
    return render_text("answer.txt.j2", answer=answer, picks=pickable_entries(answer, kb), can_pick=can_pick)


def picked_answer(entry: Entry) -> Answer:
    """An entry opened from a list, shown like an answer to its own title."""
    return Answer(question=entry.title, outcome="answered", match=Match(entry, 1.0), alternatives=())
