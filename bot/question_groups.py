"""Unanswered questions grouped by similarity: what `dockbot stats` reports and bot/gap_snippets.py writes
YAML for. Its own module so that the report (bot/stats.py) and the snippet writer both build on it without
importing each other.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rapidfuzz import fuzz, process

from bot.korean import QUESTION_TOKEN, STOPWORDS, clean_text, raw_tokens

if TYPE_CHECKING:
    from bot.knowledge import KnowledgeBase
    from bot.matcher import Matcher

# Two questions belong to one group at this rapidfuzz WRatio (0-100) or above. WRatio mixes whole-string,
# partial and token-set similarity, which copes with Korean particles and word order ("볼륨 백업 방법" vs
# "볼륨은 어떻게 백업해요"); 70 keeps unrelated one-word fragments apart on the questions we tried.
GROUP_SIMILARITY = 70.0
MAX_EXAMPLES_PER_GROUP = 8


def grouping_key(text: str) -> str:
    """The words that carry a question: the matcher's own cleaning and particle stripping, minus filler.

    "볼륨 백업은 어떻게 하나요?" and "볼륨을 백업하는 방법 알려줘" both become "볼륨 백업 ...", so their
    similarity reflects the topic rather than the grammar.
    """
    tokens = raw_tokens(clean_text(text))
    kept = [t for t in tokens if t not in STOPWORDS and t != QUESTION_TOKEN]
    return " ".join(kept or tokens)


@dataclass(frozen=True)
class QuestionGroup:
    """Similar questions that went unanswered or got only a low-confidence guess."""

    representative: str
    count: int
    examples: tuple[str, ...]  # distinct texts, most asked first
    outcomes: dict[str, int]
    entry_id: str | None  # the entry the matcher most often guessed, if any
    entry_title: str | None
    last_asked: str


def group_questions(
    rows: Sequence[tuple[str, str, str | None, str]],
    *,
    key: Callable[[str], str] = grouping_key,
    threshold: float = GROUP_SIMILARITY,
) -> list[dict[str, Any]]:
    """Group (text, outcome, entry_id, asked_at) rows by text similarity, biggest group first.

    Greedy single pass over distinct texts, most frequent first, so each group is represented by its most
    asked wording. Quadratic only in the number of groups, which stays small.
    """
    by_text: dict[str, list[tuple[str, str, str | None, str]]] = {}
    for row in rows:
        folded = key(row[0])
        if folded:
            by_text.setdefault(folded, []).append(row)
    ordered = sorted(by_text.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    groups: list[dict[str, Any]] = []
    representatives: list[str] = []
    for folded, members in ordered:
        found = process.extractOne(folded, representatives, scorer=fuzz.WRatio, score_cutoff=threshold)
        if found is None:
            representatives.append(folded)
            groups.append({"members": list(members), "texts": Counter()})
            target = groups[-1]
        else:
            target = groups[found[2]]
            target["members"].extend(members)
        for text, *_ in members:
            target["texts"][text.strip()] += 1
    groups.sort(key=lambda g: -len(g["members"]))  # stable: ties keep the most-asked-wording order
    return groups


def matcher_key(matcher: Matcher) -> Callable[[str], str]:
    """Group by the matcher's own analysis: synonyms and typo fixes make 보륨/volume/볼륨 one word."""

    def key(text: str) -> str:
        try:
            tokens = [t for t in matcher.analyse(text) if t != QUESTION_TOKEN]
        except Exception:  # grouping is best effort; never lose the report over one odd question
            tokens = []
        return " ".join(tokens) or grouping_key(text)

    return key


def describe_group(group: dict[str, Any], kb: KnowledgeBase | None) -> QuestionGroup:
    members = group["members"]
    texts: Counter[str] = group["texts"]
    guesses = Counter(m[2] for m in members if m[2])
    entry_id = guesses.most_common(1)[0][0] if guesses else None
    entry = kb.get(entry_id) if kb is not None and entry_id else None
    examples = tuple(text for text, _ in texts.most_common(MAX_EXAMPLES_PER_GROUP))
    return QuestionGroup(
        representative=examples[0],
        count=len(members),
        examples=examples,
        outcomes=dict(Counter(m[1] for m in members)),
        entry_id=entry_id,
        entry_title=entry.title if entry is not None else None,
        last_asked=max(m[3] for m in members),
    )
