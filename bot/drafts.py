"""Draft entries (knowledge/drafts/*.yaml): an expert's answer turned into YAML ready to review.

A draft is never live: the loader reads only knowledge/*.yaml, so the matcher ignores drafts/ until an admin
moves the entry into an entries file. `dockbot validate` checks drafts with the same schema and reports
what keeps one from going live (too few example questions, ...) as warnings, without failing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date
from pathlib import Path

from bot.yamlfile import Problem, YamlFileError, read_yaml

DRAFTS_DIR = "drafts"
# Rephrasings of the asked question kept as example questions (the schema wants 8 before it goes live).
MAX_VARIANTS = 7
_USER_MENTION = re.compile(r"<@([UW][A-Z0-9]+)>")


def drafts_directory(knowledge_dir: Path) -> Path:
    return knowledge_dir / DRAFTS_DIR


def draft_problems(knowledge_dir: Path, live_ids: Iterable[str] = ()) -> list[Problem]:
    """Everything that keeps each draft from going live, as `path:line: draft: ...` warnings."""
    from bot.knowledge import parse_file

    live = set(live_ids)
    problems: list[Problem] = []
    for path in sorted(drafts_directory(knowledge_dir).glob("*.yaml")):
        try:
            doc = read_yaml(path)
        except YamlFileError as exc:
            problems.extend(Problem(p.path, p.line, f"draft: {p.message}") for p in exc.problems)
            continue
        found: list[Problem] = []
        parsed = parse_file(doc, "EntriesFile", found)
        problems.extend(Problem(p.path, p.line, f"draft: {p.message}") for p in found)
        for i, entry in enumerate(parsed.entries if parsed is not None else []):
            if entry.id in live:
                problems.append(doc.problem(("entries", i, "id"), f"draft: id '{entry.id}' is already live"))
    return problems


def draft_yaml(
    *,
    draft_id: str,
    question: str,
    replies: str,
    variants: Iterable[str] = (),
    owner: str = "",
    asked_in: str = "",
    today: date | None = None,
) -> str:
    """The YAML text of one draft entry (comments say what to review before moving it in)."""
    from ruamel.yaml.scalarstring import LiteralScalarString

    today = today or date.today()
    answer = _USER_MENTION.sub("", replies).strip() or "(전문가 답변을 여기에 정리해 주세요)"
    questions = list(dict.fromkeys(q.strip() for q in (question, *variants) if q.strip()))[: MAX_VARIANTS + 1]
    entry: dict[str, object] = {
        "id": draft_id,
        "title": question.strip()[:200],
        "answer": LiteralScalarString(answer[:4000] + "\n"),
        "questions": questions,
    }
    if owner:
        entry["owner"] = owner
    entry["verified"] = today
    header = (
        "# 초안 (dockbot 이 전문가 스레드에서 만든 항목): 매처는 drafts/ 를 읽지 않습니다.\n"
        "# 검토할 것: 제목과 답을 다듬고, 예시 질문을 8개 이상으로 채우고, id 를 정하고,\n"
        "# related 를 붙인 뒤 knowledge/<주제>.yaml 의 entries: 아래로 옮기세요.\n"
        "# `dockbot validate` 가 남은 문제를 알려 줍니다.\n"
        + (f"# 질문한 곳: {asked_in}\n" if asked_in else "")
    )
    return header + _dump({"entries": [entry]})


def write_draft(knowledge_dir: Path, draft_id: str, text: str) -> Path:
    """Write knowledge/drafts/<draft_id>.yaml (atomically; an existing draft of that id is replaced)."""
    directory = drafts_directory(knowledge_dir)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{draft_id}.yaml"
    tmp = path.with_suffix(".yaml.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return path


def _dump(data: object) -> str:
    import io

    from ruamel.yaml import YAML

    yaml = YAML()
    yaml.width = 100
    yaml.indent(mapping=2, sequence=4, offset=2)
    out = io.StringIO()
    yaml.dump(data, out)
    return out.getvalue()
