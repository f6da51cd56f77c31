"""Load and validate the knowledge base (knowledge/*.yaml) into immutable entries.

Every problem an admin can make is reported as `path:line: message` (see bot/yamlfile.py), all of them at
once: unknown or missing fields, duplicate ids, related ids or demos that don't exist, the same example
question in two entries, a broken synonyms, off-topic or uncovered file, an uncovered question that an
entry already has as an example (or a topic named like an entry), broken demo scenarios.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from bot.yamlfile import Problem, YamlDocument, YamlFileError, display_path, read_yaml

SYNONYMS_FILE = "synonyms.yaml"
OFF_TOPIC_FILE = "off-topic.yaml"
UNCOVERED_FILE = "uncovered.yaml"
_NOT_ENTRY_FILES = (SYNONYMS_FILE, OFF_TOPIC_FILE, UNCOVERED_FILE)
DEMOS_DIR = "demos"
# The ids every dockbot knowledge base must have (shared with the content writers).
TOPICS_FILE = Path(__file__).resolve().parent.parent.parent / "shared" / "knowledge-topics.yaml"


class KnowledgeError(Exception):
    """The knowledge base is invalid; `problems` lists every problem found."""

    def __init__(self, problems: Iterable[Problem]):
        self.problems = sorted(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


@dataclass(frozen=True)
class Entry:
    id: str
    title: str
    answer: str
    commands: tuple[str, ...]
    related: tuple[str, ...]
    demo: str | None
    keywords: tuple[str, ...]
    questions: tuple[str, ...]
    path: str
    line: int
    # Official documentation addresses, shown as "자세히 보기" under the answer.
    sources: tuple[str, ...] = ()
    # Who keeps the answer true and when it was last checked (`dockbot validate` warns when it is old).
    owner: str | None = None
    verified: date | None = None
    # Line of each example question, for validate's "answered by another entry" report.
    question_lines: tuple[int, ...] = field(default=(), compare=False, repr=False)


@dataclass(frozen=True)
class KnowledgeBase:
    entries: tuple[Entry, ...]
    synonyms: Mapping[str, tuple[str, ...]]
    off_topic: tuple[str, ...]
    scenarios: Mapping[str, Any]
    directory: Path
    # Docker/Kubernetes questions no entry answers (uncovered.yaml), by topic: negative data for the matcher.
    uncovered: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def uncovered_questions(self) -> tuple[str, ...]:
        """Every uncovered question, in file order (the topics flattened)."""
        return tuple(q for questions in self.uncovered.values() for q in questions)

    def get(self, entry_id: str) -> Entry | None:
        for entry in self.entries:
            if entry.id == entry_id:
                return entry
        return None


def question_key(text: str) -> str:
    """What makes two example questions 'the same': case, width, spacing and end punctuation ignored."""
    text = unicodedata.normalize("NFKC", text).casefold()
    return re.sub(r"[\s?!.~,]+", " ", text).strip()


def _read(path: Path, problems: list[Problem]) -> YamlDocument | None:
    try:
        return read_yaml(path)
    except YamlFileError as exc:
        problems.extend(exc.problems)
        return None


_ENTRY_ID = re.compile(r"[a-z0-9][a-z0-9-]*")
_ENTRY_TEXT_LIMITS = {"title": 200, "answer": 4000}
_ENTRY_LISTS = ("commands", "related", "keywords", "questions", "sources")
# These equal knowledge_schema's MIN_QUESTIONS, MAX_SOURCES and SOURCE_URL (a test keeps them equal).
_ENTRY_MIN_QUESTIONS = 8
_ENTRY_MAX_SOURCES = 3
_SOURCE_URL = re.compile(r"https://[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+(/[^\s<>|\"']*)?")


def _is_text(value: Any) -> bool:
    return type(value) is str and bool(value.strip())


def _is_text_list(value: Any) -> bool:
    return type(value) is list and all(_is_text(item) for item in value)


def _entry_fits(item: Any) -> bool:
    if type(item) is not dict or not {"id", "title", "answer", "questions"} <= item.keys():
        return False
    if not item.keys() <= {"id", "demo", "owner", "verified", *_ENTRY_TEXT_LIMITS, *_ENTRY_LISTS}:
        return False
    owner, verified = item.get("owner"), item.get("verified")
    if owner is not None and not (_is_text(owner) and len(owner) <= 80):
        return False
    if verified is not None and _as_date(verified) is None:
        return False
    entry_id, demo, questions = item["id"], item.get("demo"), item["questions"]
    sources = item.get("sources", [])
    return (
        type(entry_id) is str
        and len(entry_id) <= 80
        and _ENTRY_ID.fullmatch(entry_id) is not None
        and all(_is_text(item[k]) and len(item[k]) <= n for k, n in _ENTRY_TEXT_LIMITS.items())
        and all(_is_text_list(item[k]) for k in _ENTRY_LISTS if k in item)
        and len(questions) >= _ENTRY_MIN_QUESTIONS
        and all("\n" not in q.strip() for q in questions)
        and (demo is None or type(demo) is str)
        and len(sources) <= _ENTRY_MAX_SOURCES
        and all(_SOURCE_URL.fullmatch(url) is not None for url in sources)
    )


def _quick_parse(data: Any, model: str) -> Any:
    """The parsed file when it certainly passes the pydantic schema of `model`, else None.

    Why: importing pydantic and building the models costs ~0.06 s, a tenth of the cold-start budget of
    `dockbot ask`; a valid file (the normal case) is recognised by this stricter-or-equal plain check,
    and anything it doesn't recognise goes through pydantic, which reports the problems with path:line.
    """
    if type(data) is not dict:
        return None
    if model == "EntriesFile":
        entries = data.get("entries")
        if data.keys() != {"entries"} or type(entries) is not list or not entries:
            return None
        if not all(_entry_fits(item) for item in entries):
            return None
        defaults: dict[str, Any] = {
            "commands": [],
            "related": [],
            "keywords": [],
            "sources": [],
            "demo": None,
            "owner": None,
            "verified": None,
        }
        return SimpleNamespace(
            entries=[
                SimpleNamespace(**{**defaults, **item, "verified": _as_date(item.get("verified"))})
                for item in entries
            ]
        )
    if model == "SynonymsFile":
        synonyms = data.get("synonyms")
        if data.keys() != {"synonyms"} or type(synonyms) is not dict:
            return None
        for canonical, aliases in synonyms.items():
            if type(canonical) is not str or type(aliases) is not list:
                return None
            if not all(type(alias) is str for alias in aliases):
                return None
        return SimpleNamespace(synonyms=synonyms)
    if model == "OffTopicFile":
        questions = data.get("questions")
        if data.keys() != {"questions"} or type(questions) is not list or not questions:
            return None
        if not all(type(q) is str for q in questions):
            return None
        return SimpleNamespace(questions=questions)
    if model == "UncoveredFile":
        topics = data.get("topics")
        if data.keys() != {"topics"} or type(topics) is not dict or not topics:
            return None
        for topic, questions in topics.items():
            if type(topic) is not str or len(topic) > 80 or _ENTRY_ID.fullmatch(topic) is None:
                return None
            if type(questions) is not list or not questions or not _is_text_list(questions):
                return None
            if any("\n" in q.strip() for q in questions):
                return None
        return SimpleNamespace(topics=topics)
    return None


def _parse(doc: YamlDocument, model: str, problems: list[Problem]) -> Any:
    """Validate a whole file against the schema model called `model` (pydantic is imported only here)."""
    quick = _quick_parse(doc.data, model)
    if quick is not None:
        return quick
    from pydantic import ValidationError

    from bot import knowledge_schema

    if not isinstance(doc.data, dict):
        problems.append(doc.problem((), "expected a mapping at the top of the file"))
        return None
    try:
        return getattr(knowledge_schema, model).model_validate(doc.data)
    except ValidationError as exc:
        problems.extend(knowledge_schema.validation_problems(doc, exc))
        return None


def parse_file(doc: YamlDocument, model: str, problems: list[Problem]) -> Any:
    """A YAML document validated against knowledge_schema's `model` (None, with problems, if invalid)."""
    return _parse(doc, model, problems)


def entry_files(directory: Path) -> list[Path]:
    """The entry files of a knowledge directory (every *.yaml except synonyms, off-topic and uncovered)."""
    return sorted(p for p in directory.glob("*.yaml") if p.name not in _NOT_ENTRY_FILES and p.is_file())


def knowledge_files(directory: Path) -> list[Path]:
    """Every file whose content the knowledge base depends on (for change detection and caching)."""
    files = [*entry_files(directory)]
    for name in _NOT_ENTRY_FILES:
        if (directory / name).is_file():
            files.append(directory / name)
    demos = directory / DEMOS_DIR
    if demos.is_dir():
        files.extend(sorted(p for p in demos.glob("*.y*ml") if p.is_file()))
    return files


def _entries(directory: Path, problems: list[Problem]) -> list[Entry]:
    entries: list[Entry] = []
    for path in entry_files(directory):
        doc = _read(path, problems)
        if doc is None:
            continue
        parsed = _parse(doc, "EntriesFile", problems)
        if parsed is None:
            # Still check the entries that are fine, so one typo doesn't hide the rest of the file.
            parsed_entries = _salvage_entries(doc, problems)
        else:
            parsed_entries = list(enumerate(parsed.entries))
        for i, model in parsed_entries:
            loc = ("entries", i)
            entries.append(
                Entry(
                    id=model.id,
                    title=model.title.strip(),
                    answer=model.answer.strip(),
                    commands=tuple(c.strip("\n") for c in model.commands),
                    related=tuple(model.related),
                    demo=model.demo,
                    keywords=tuple(k.strip() for k in model.keywords),
                    questions=tuple(q.strip() for q in model.questions),
                    sources=tuple(model.sources),
                    owner=model.owner.strip() if model.owner else None,
                    verified=_as_date(model.verified),
                    path=doc.path,
                    line=doc.line_of(loc),
                    question_lines=tuple(
                        doc.line_of((*loc, "questions", j)) for j in range(len(model.questions))
                    ),
                )
            )
    return entries


def _as_date(value: Any) -> date | None:
    """`verified:` as a date: YAML's own date or the same YYYY-MM-DD in quotes (= knowledge_schema)."""
    if type(value) is date:
        return value
    if type(value) is str and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.strip()):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            return None
    return None


def _salvage_entries(doc: YamlDocument, problems: list[Problem]) -> list[tuple[int, Any]]:
    from pydantic import ValidationError

    from bot.knowledge_schema import EntryModel

    items = doc.data.get("entries") if isinstance(doc.data, dict) else None
    if not isinstance(items, list):
        return []
    good = []
    for i, item in enumerate(items):
        try:
            good.append((i, EntryModel.model_validate(item)))
        except ValidationError:
            continue  # already reported by the whole-file validation
    return good


def _synonyms(directory: Path, problems: list[Problem]) -> dict[str, tuple[str, ...]]:
    path = directory / SYNONYMS_FILE
    if not path.is_file():
        return {}
    doc = _read(path, problems)
    if doc is None:
        return {}
    parsed = _parse(doc, "SynonymsFile", problems)
    if parsed is None:
        return {}
    from bot.korean import clean_text

    out: dict[str, tuple[str, ...]] = {}
    seen: dict[str, str] = {}
    for canonical, aliases in parsed.synonyms.items():
        for alias in (canonical, *aliases):
            if not any(ch.isalnum() for ch in clean_text(alias)):
                problems.append(doc.problem(("synonyms", canonical), f"synonym '{alias}' has no letters"))
                continue
            key = clean_text(alias)
            if key in seen and seen[key] != canonical:
                problems.append(
                    doc.problem(("synonyms", canonical), f"'{alias}' is already a synonym of '{seen[key]}'")
                )
            seen.setdefault(key, canonical)
        out[canonical] = tuple(aliases)
    return out


def _off_topic(directory: Path, problems: list[Problem]) -> tuple[str, ...]:
    path = directory / OFF_TOPIC_FILE
    if not path.is_file():
        return ()
    doc = _read(path, problems)
    parsed = _parse(doc, "OffTopicFile", problems) if doc else None
    return tuple(q.strip() for q in parsed.questions) if parsed else ()


@dataclass(frozen=True)
class _Uncovered:
    topics: dict[str, tuple[str, ...]]
    lines: dict[tuple[str, int], int]  # (topic, index) -> line of that question, (topic, -1) of the topic
    path: str


def _uncovered(directory: Path, problems: list[Problem]) -> _Uncovered:
    path = directory / UNCOVERED_FILE
    empty = _Uncovered({}, {}, display_path(path))
    if not path.is_file():
        return empty
    doc = _read(path, problems)
    if doc is None:
        return empty
    parsed = _parse(doc, "UncoveredFile", problems)
    if parsed is None:
        return empty
    topics = {topic: tuple(q.strip() for q in questions) for topic, questions in parsed.topics.items()}
    lines = {
        (topic, i): doc.line_of(("topics", topic, i))
        for topic, qs in topics.items()
        for i in range(-1, len(qs))
    }
    lines.update({(topic, -1): doc.line_of(("topics", topic)) for topic in topics})
    return _Uncovered(topics, lines, doc.path)


def _check_uncovered(
    uncovered: _Uncovered, entries: list[Entry], off_topic: tuple[str, ...], problems: list[Problem]
) -> None:
    """Uncovered questions are negative data: none may be an entry's example, off-topic or repeated."""
    ids = {entry.id for entry in entries}
    seen: dict[str, str] = {}
    for entry in entries:
        for question in entry.questions:
            seen.setdefault(question_key(question), f"an example of '{entry.id}' ({entry.path}:{entry.line})")
    for question in off_topic:
        seen.setdefault(question_key(question), f"in {OFF_TOPIC_FILE}")
    for topic, questions in uncovered.topics.items():
        if topic in ids:
            line = uncovered.lines[(topic, -1)]
            problems.append(
                Problem(
                    uncovered.path, line, f"topic '{topic}' is an entry id: move its questions to that entry"
                )
            )
        for i, question in enumerate(questions):
            key = question_key(question)
            line = uncovered.lines[(topic, i)]
            if key in seen:
                problems.append(
                    Problem(uncovered.path, line, f"question '{question}' is already {seen[key]}")
                )
            else:
                seen[key] = f"uncovered under '{topic}' ({uncovered.path}:{line})"


def _scenarios(directory: Path, problems: list[Problem]) -> Mapping[str, Any] | None:
    """Demo scenarios by name, or None when the demo package is not installed (demo links are not checked)."""
    try:
        from bot.demos.scenario import load_scenarios
    except ImportError:
        return None
    except Exception as exc:  # the demo code itself is broken: say so instead of crashing
        where = display_path(directory / DEMOS_DIR)
        problems.append(Problem(where, 1, f"demo scenarios cannot be loaded: {type(exc).__name__}: {exc}"))
        return {}
    try:
        scenarios, scenario_problems = load_scenarios(directory / DEMOS_DIR)
    except Exception as exc:
        where = display_path(directory / DEMOS_DIR)
        problems.append(Problem(where, 1, f"demo scenarios cannot be loaded: {type(exc).__name__}: {exc}"))
        return {}
    problems.extend(scenario_problems)
    return scenarios


def _cross_check(entries: list[Entry], scenarios: Mapping[str, Any] | None, problems: list[Problem]) -> None:
    by_id: dict[str, Entry] = {}
    for entry in entries:
        first = by_id.get(entry.id)
        if first is not None:
            problems.append(
                Problem(
                    entry.path, entry.line, f"duplicate id '{entry.id}' (first at {first.path}:{first.line})"
                )
            )
        else:
            by_id[entry.id] = entry
    asked: dict[str, tuple[Entry, int]] = {}
    for entry in entries:
        for rel in entry.related:
            if rel == entry.id:
                problems.append(
                    Problem(entry.path, entry.line, f"entry '{entry.id}' lists itself as related")
                )
            elif rel not in by_id:
                problems.append(Problem(entry.path, entry.line, f"related id '{rel}' does not exist"))
        if entry.demo is not None and scenarios is not None and entry.demo not in scenarios:
            known = ", ".join(sorted(scenarios)) or "none"
            problems.append(
                Problem(entry.path, entry.line, f"demo '{entry.demo}' does not exist (known demos: {known})")
            )
        for question, line in zip(entry.questions, entry.question_lines, strict=False):
            key = question_key(question)
            if key in asked:
                other, other_line = asked[key]
                where = "this entry" if other is entry else f"'{other.id}'"
                problems.append(
                    Problem(
                        entry.path,
                        line,
                        f"example question '{question}' is also in {where} ({other.path}:{other_line})",
                    )
                )
            else:
                asked[key] = (entry, line)


def load_knowledge(directory: Path | str) -> KnowledgeBase:
    """Load every knowledge file of `directory`. Raises KnowledgeError listing every problem."""
    directory = Path(directory)
    problems: list[Problem] = []
    if not directory.is_dir():
        raise KnowledgeError([Problem(display_path(directory), 1, "knowledge directory does not exist")])
    entries = _entries(directory, problems)
    if not entries and not problems:
        problems.append(Problem(display_path(directory), 1, "no knowledge entries (*.yaml with 'entries:')"))
    synonyms = _synonyms(directory, problems)
    off_topic = _off_topic(directory, problems)
    uncovered = _uncovered(directory, problems)
    scenarios = _scenarios(directory, problems)
    _cross_check(entries, scenarios, problems)
    _check_uncovered(uncovered, entries, off_topic, problems)
    if problems:
        raise KnowledgeError(problems)
    return KnowledgeBase(
        entries=tuple(entries),
        synonyms=dict(synonyms),
        off_topic=off_topic,
        scenarios=dict(scenarios or {}),
        directory=directory.resolve(),
        uncovered=uncovered.topics,
    )


def missing_required_ids(kb: KnowledgeBase, topics_file: Path = TOPICS_FILE) -> list[Problem]:
    """Ids the shared topic list requires that the knowledge base lacks (none when that list is absent)."""
    if not topics_file.is_file():
        return []
    problems: list[Problem] = []
    doc = _read(topics_file, problems)
    if doc is None or not isinstance(doc.data, dict):
        return problems
    have = {entry.id for entry in kb.entries}
    for area, topics in doc.data.items():
        if not isinstance(topics, dict):
            continue
        for topic_id in topics:
            if topic_id not in have:
                problems.append(doc.problem((area, topic_id), f"required entry id '{topic_id}' is missing"))
    return problems
