"""What a conversation is about, as the store keeps it and bot/conversation.py reads it.

Its own module so that the store records topics without importing the conversation logic (which imports
the matcher and the knowledge: an import cycle back to the store).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Topic:
    """What a conversation is about: the last entry answered in it and the question that led there."""

    entry_id: str  # "" when the bot has only offered suggestions so far
    question: str
    # A question of this conversation still waiting for its entry (it got suggestions, or a 👎): the entry
    # the asker ends up with makes it a suggested example (bot/suggestions.py). pending_reason says how.
    pending: str = ""
    pending_reason: str = ""
