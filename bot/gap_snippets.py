"""YAML snippets that fill the gaps bot/stats.py found, in the knowledge format, for an admin to paste as is:
more example questions for the entry the matcher almost chose, or a new entry stub when nothing came close
(with the off-topic.yaml lines as the alternative when the group may not be about Docker/Kubernetes)."""

from __future__ import annotations

import dataclasses
import json
import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from bot.knowledge import OFF_TOPIC_FILE, question_key
from bot.yamlfile import YamlFileError, display_path, read_yaml

# Where a new entry goes when no existing entry is related: the general practices area.
FALLBACK_FILE = "practices.yaml"

_SPACES = re.compile(r"\s+")
_ASCII_WORD = re.compile(r"[a-z][a-z0-9]+")
# Words too generic to name a new entry.
_GENERIC_WORDS = frozenset(
    {"docker", "k8s", "kubernetes", "kubectl", "container", "the", "and", "how", "what"}
)

if TYPE_CHECKING:
    from bot.knowledge import Entry, KnowledgeBase
    from bot.matcher import Matcher
    from bot.question_groups import QuestionGroup


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
