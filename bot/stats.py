"""What the admins should write next: unanswered questions grouped by similarity, 👎 per entry, demo health.

The report is plain data (`StatsReport`) rendered by stats.txt.j2 for the terminal and handlers/blocks.py
for Slack, or dumped as JSON. `suggest=True` adds, for the top groups, a YAML snippet in the knowledge format
that an admin pastes as is: more example questions for the entry the matcher almost chose, or a new entry
stub when nothing came close.
"""

from __future__ import annotations

import dataclasses
import json
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from rapidfuzz import fuzz, process

from bot.knowledge import OFF_TOPIC_FILE, question_key
from bot.korean import QUESTION_TOKEN, STOPWORDS, clean_text, raw_tokens
from bot.yamlfile import YamlFileError, display_path, read_yaml

if TYPE_CHECKING:
    from bot.knowledge import Entry, KnowledgeBase
    from bot.matcher import Matcher
    from bot.store import Store

# Outcomes an admin should act on: nothing found, or only a low-confidence guess.
GAP_OUTCOMES = ("no_answer", "suggested")
# Two questions belong to one group at this rapidfuzz WRatio (0-100) or above. WRatio mixes whole-string,
# partial and token-set similarity, which copes with Korean particles and word order ("볼륨 백업 방법" vs
# "볼륨은 어떻게 백업해요"); 70 keeps unrelated one-word fragments apart on the questions we tried.
GROUP_SIMILARITY = 70.0
MAX_GROUPS = 10
MAX_SUGGESTIONS = 5
MAX_EXAMPLES_PER_GROUP = 8
# Where a new entry goes when no existing entry is related: the general practices area.
FALLBACK_FILE = "practices.yaml"

_SPACES = re.compile(r"\s+")
_ASCII_WORD = re.compile(r"[a-z][a-z0-9]+")
# Words too generic to name a new entry.
_GENERIC_WORDS = frozenset(
    {"docker", "k8s", "kubernetes", "kubectl", "container", "the", "and", "how", "what"}
)


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


@dataclass(frozen=True)
class Suggestion:
    kind: str  # "add_questions" | "new_entry"
    group: str  # the group's representative question
    entry_id: str | None
    path: str
    where: str  # where to paste, in words an admin follows
    snippet: str
    # For a group that may not be about Docker/Kubernetes at all: the off-topic.yaml lines instead.
    alternative: str | None = None


@dataclass(frozen=True)
class EntryFeedback:
    entry_id: str
    title: str
    up: int
    down: int


@dataclass(frozen=True)
class DemoHealth:
    scenario: str
    runs: int
    failures: int
    failure_rate: float
    avg_duration_s: float
    last_error: str | None


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
    demos: list[DemoHealth] = field(default_factory=list)
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
        if self.suggestions is None:
            del data["suggestions"]
        if self.examples is None:
            del data["examples"]
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=2)


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
    key = _matcher_key(matcher) if matcher is not None else grouping_key
    groups = [_describe_group(g, kb) for g in group_questions(rows, key=key)[:max_groups]]

    def title(entry_id: str) -> str:
        entry = kb.get(entry_id) if kb is not None else None
        return entry.title if entry is not None else entry_id

    feedback = [EntryFeedback(v.entry_id, title(v.entry_id), v.up, v.down) for v in store.votes_by_entry()]
    demos = [
        DemoHealth(
            t.scenario, t.runs, t.failures, round(t.failure_rate, 4), round(t.avg_duration_s, 2), t.last_error
        )
        for t in store.demo_tallies()
    ]
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


def _matcher_key(matcher: Matcher) -> Callable[[str], str]:
    """Group by the matcher's own analysis: synonyms and typo fixes make 보륨/volume/볼륨 one word."""

    def key(text: str) -> str:
        try:
            tokens = [t for t in matcher.analyse(text) if t != QUESTION_TOKEN]
        except Exception:  # grouping is best effort; never lose the report over one odd question
            tokens = []
        return " ".join(tokens) or grouping_key(text)

    return key


def _describe_group(group: dict[str, Any], kb: KnowledgeBase | None) -> QuestionGroup:
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


# ---- suggestions ---------------------------------------------------------------------------------


def suggest_snippets(
    groups: Sequence[QuestionGroup], kb: KnowledgeBase, matcher: Matcher
) -> list[Suggestion]:
    """One ready-to-paste snippet per group, decided by the knowledge as it is NOW (it may have been fixed).

    More example questions for an existing entry only when the matcher already leans to that entry: it is
    the top guess for most of the group and scores closer to the answer threshold than to the suggestion
    threshold. Scattered or weak guesses mean the topic is missing: a new entry stub, related to the entries
    the matcher ranks highest for the group. When nothing ranks even near the suggestion threshold the group
    may not be about Docker/Kubernetes at all, so the off-topic alternative is offered beside the stub.
    """
    suggestions: list[Suggestion] = []
    known = {question_key(q) for entry in kb.entries for q in entry.questions}
    known |= {question_key(q) for q in (*kb.off_topic, *kb.uncovered_questions)}
    thresholds = getattr(matcher, "thresholds", None)
    # Related entries are a hint for the admin, not an answer: half the suggestion threshold keeps the
    # matcher's best guesses for a near-topic ("볼륨 백업" -> volume-*) and drops the noise of a question
    # that shares nothing with the knowledge base (those score around a quarter of it here).
    related_floor = thresholds.suggest / 2 if thresholds is not None else 0.0
    leaning = (thresholds.suggest + thresholds.answer) / 2 if thresholds is not None else 0.0
    taken = {entry.id for entry in kb.entries}
    for group in groups:
        fresh = list({question_key(q): q for q in group.examples if question_key(q) not in known}.values())
        if not fresh:
            continue  # every wording is already an example (or off-topic) question somewhere
        answers = [matcher.match(q) for q in fresh]
        if sum(a.outcome == "answered" for a in answers) * 2 > len(answers):
            continue  # the knowledge base answers these now: nothing to write
        scores: dict[str, list[float]] = {}
        for a in answers:
            best = a.match or (a.alternatives[0] if a.alternatives else None)
            if best is not None:
                scores.setdefault(best.entry.id, []).append(best.score)
        ranked = sorted(scores.items(), key=lambda kv: (-len(kv[1]), -max(kv[1])))
        target = kb.get(ranked[0][0]) if ranked else None
        if (
            target is not None
            and len(ranked[0][1]) * 2 > len(fresh)
            and sum(ranked[0][1]) / len(ranked[0][1]) >= leaning
        ):
            suggestions.append(_add_questions(group, target, fresh, kb))
        else:
            related = _related_entries(fresh, matcher, kb, related_floor)
            suggestion = _new_entry(group, fresh, related, kb, taken)
            if not related:
                suggestion = _or_off_topic(suggestion, fresh, kb)
            suggestions.append(suggestion)
    return suggestions


def _related_entries(
    questions: Sequence[str], matcher: Matcher, kb: KnowledgeBase, floor: float
) -> list[Entry]:
    """Up to 3 entries the matcher ranks highest over the group (each at least once at `floor` or above)."""
    total: dict[str, float] = {}
    strong: set[str] = set()
    for question in questions:
        for scored in matcher.rank(question)[:3]:
            entry_id = matcher.index.entries[scored.index].id
            total[entry_id] = total.get(entry_id, 0.0) + scored.score
            if scored.score >= floor:
                strong.add(entry_id)
    ids = [entry_id for entry_id in sorted(total, key=lambda i: -total[i]) if entry_id in strong][:3]
    return [e for e in (kb.get(i) for i in ids) if e is not None]


def _entry_file(entry: Entry, kb: KnowledgeBase) -> Path:
    path = Path(entry.path)
    if not path.is_absolute() and not path.exists():
        path = Path(kb.directory) / path.name
    return path.resolve()


def _add_questions(
    group: QuestionGroup, entry: Entry, questions: Sequence[str], kb: KnowledgeBase
) -> Suggestion:
    path = _entry_file(entry, kb)
    located = _last_item_line(path, ("entries", "id", entry.id, "questions"))
    shown = display_path(path)
    if located is None:
        # The file moved or changed shape since loading: still give the snippet, with a looser location.
        lines = [f"      - {_yaml_scalar(q)}" for q in questions]
        where = f"{shown}: under `questions:` of entry `{entry.id}`"
    else:
        lines = [f"{located.indent}- {_yaml_scalar(q)}" for q in questions]
        where = f"{shown}: after line {located.line} (the last example question of `{entry.id}`)"
    snippet = "\n".join([f"# {where}", *lines])
    return Suggestion("add_questions", group.representative, entry.id, shown, where, snippet)


def _new_entry(
    group: QuestionGroup,
    questions: Sequence[str],
    related: Sequence[Entry],
    kb: KnowledgeBase,
    taken: set[str],
) -> Suggestion:
    # The file most of the related entries live in: a new volume topic goes next to the volume entries.
    files = Counter(_entry_file(e, kb) for e in related)
    path = files.most_common(1)[0][0] if files else (Path(kb.directory) / FALLBACK_FILE).resolve()
    indent = _entries_indent(path)
    entry_id, named = _new_id(questions, path, kb, taken)
    taken.add(entry_id)
    shown = display_path(path)
    where = f"{shown}: at the end of the `entries:` list"
    inner = indent + "  "
    lines = [
        f"# {where} — write the answer and keywords, then `dockbot validate`",
        f"{indent}- id: {entry_id}" + ("" if named else "   # TODO: a short English id"),
        f"{inner}title: {_yaml_scalar(questions[0])}   # TODO: a short Korean title",
        f"{inner}answer: |",
        f"{inner}  TODO: 2-6 short lines of Korean",
        f"{inner}commands: []",
        f"{inner}related: [{', '.join(e.id for e in related)}]",
        f"{inner}keywords: []",
        f"{inner}questions:   # TODO: more wordings, as people type them (`dockbot validate` checks)",
        *(f"{inner}  - {_yaml_scalar(q)}" for q in questions),
    ]
    return Suggestion("new_entry", group.representative, None, shown, where, "\n".join(lines))


def _or_off_topic(suggestion: Suggestion, questions: Sequence[str], kb: KnowledgeBase) -> Suggestion:
    path = (Path(kb.directory) / OFF_TOPIC_FILE).resolve()
    located = _last_item_line(path, ("questions",))
    if located is None:
        return suggestion
    shown = display_path(path)
    lines = [
        f"# {shown}: after line {located.line} (the last off-topic question)",
        *(f"{located.indent}- {_yaml_scalar(q)}" for q in questions),
    ]
    return dataclasses.replace(suggestion, alternative="\n".join(lines))


@dataclass(frozen=True)
class _Located:
    line: int
    indent: str


def _last_item_line(path: Path, where: tuple[str, ...]) -> _Located | None:
    """The line and indentation of the last item of a list: ("questions",) at the top of the file, or
    ("entries", "id", <id>, "questions") inside the entry with that id."""
    try:
        doc = read_yaml(path)
        text = path.read_text(encoding="utf-8").splitlines()
    except (YamlFileError, OSError):
        return None
    if not isinstance(doc.data, dict):
        return None
    location: tuple[str | int, ...]
    if len(where) == 1:
        items, location = doc.data.get(where[0]), (where[0],)
    else:
        list_key, id_key, wanted, items_key = where
        entries = doc.data.get(list_key)
        if not isinstance(entries, list):
            return None
        matching = [i for i, e in enumerate(entries) if isinstance(e, dict) and e.get(id_key) == wanted]
        if not matching:
            return None
        index = matching[0]
        items, location = entries[index].get(items_key), (list_key, index, items_key)
    if not isinstance(items, list) or not items:
        return None
    line = doc.line_of((*location, len(items) - 1))
    if not 0 < line <= len(text):
        return None
    source = text[line - 1]
    return _Located(line, source[: len(source) - len(source.lstrip())])


def _entries_indent(path: Path) -> str:
    try:
        doc = read_yaml(path)
        line = doc.line_of(("entries", 0))
        source = path.read_text(encoding="utf-8").splitlines()[line - 1]
        return source[: len(source) - len(source.lstrip())]
    except (YamlFileError, OSError, IndexError):
        return "  "


def _new_id(questions: Sequence[str], path: Path, kb: KnowledgeBase, taken: set[str]) -> tuple[str, bool]:
    """An unused id in the style of the file's ids (`volume-…` in volumes.yaml), from the English words
    asked. Returns (id, whether it was named from those words rather than a placeholder)."""
    in_file = [e.id.split("-")[0] for e in kb.entries if _entry_file(e, kb) == path]
    prefixes = Counter(in_file)
    common = prefixes.most_common(1)[0] if prefixes else None
    dominant = common is not None and common[1] >= 2 and common[1] * 2 > len(in_file)
    prefix = common[0] if common is not None and dominant else path.stem.rstrip("s")
    words = Counter(
        word
        for q in questions
        for word in _ASCII_WORD.findall(unicodedata.normalize("NFKC", q).casefold())
        if word not in _GENERIC_WORDS and not word.startswith(prefix)
    )
    stem = "-".join(w for w, _ in words.most_common(2))
    base = f"{prefix}-{stem or 'todo'}"
    candidate, n = base, 2
    while candidate in taken:
        candidate, n = f"{base}-{n}", n + 1
    return candidate, bool(stem)


def _yaml_scalar(text: str) -> str:
    """One line of YAML that reads back as exactly `text` (plain when safe, else JSON-quoted)."""
    text = _SPACES.sub(" ", text).strip()
    try:
        if yaml.safe_load(f"- {text}") == [text]:
            return text
    except yaml.YAMLError:
        pass
    return json.dumps(text, ensure_ascii=False)
