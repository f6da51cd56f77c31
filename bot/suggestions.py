"""Learning from use, with a human in the loop: suggested example questions.

A question becomes a *suggested example* of an entry when the asker picked that entry from "혹시 이것을
찾으셨나요?", or got it after a 👎 on another answer (bot/brain.py records these). Nothing is learned until an
admin approves it (Slack `/dockbot review`, App Home, or `dockbot stats --suggest` / `--approve ID`):
an approved question is appended to the entry's `questions:` in its YAML file with a round-trip YAML
library (ruamel.yaml: comments, quoting and layout of the file are kept), the knowledge base is validated
with the change (a change that breaks it is undone) and reloaded.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.store import Store

log = logging.getLogger(__name__)

REASONS_KO = {"picked": "추천 목록에서 고름", "after_downvote": "👎 뒤에 찾은 답", "expert": "전문가 답변"}


@dataclass(frozen=True)
class SuggestedExample:
    id: int
    entry_id: str
    question: str
    reason: str
    suggested_at: str

    @property
    def reason_ko(self) -> str:
        return REASONS_KO.get(self.reason, self.reason)

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> SuggestedExample:
        return cls(
            int(row["id"]),
            str(row["entry_id"]),
            str(row["question"]),
            str(row["reason"]),
            str(row["suggested_at"]),
        )


@dataclass(frozen=True)
class Decision:
    ok: bool
    message: str  # Korean, for the admin
    suggestion: SuggestedExample | None = None


class ExampleWriteError(Exception):
    """The example could not be added to the YAML (entry gone, file unreadable, knowledge invalid after)."""


def pending(store: Store, *, limit: int = 50) -> list[SuggestedExample]:
    return [SuggestedExample.from_row(row) for row in store.suggested_examples("pending", limit=limit)]


def append_example(knowledge_dir: Path, entry_id: str, question: str) -> Path:
    """Append `question` to the entry's questions in its YAML file, keeping the file's comments and layout;
    the knowledge base must still load with it (else the file is restored and ExampleWriteError raised)."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    from bot.knowledge import KnowledgeError, entry_files, load_knowledge

    question = " ".join(question.split())
    if not question:
        raise ExampleWriteError("빈 질문은 예시로 넣을 수 없어요.")
    yaml = YAML()  # round-trip mode
    yaml.width = 4096  # never re-wrap long lines (flow keyword lists) of the admins' files
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.preserve_quotes = True
    for path in entry_files(knowledge_dir):
        original = path.read_text(encoding="utf-8")
        try:
            data = yaml.load(original)
        except YAMLError as exc:
            raise ExampleWriteError(f"{path.name} 를 읽을 수 없어요: {exc}") from exc
        entries = data.get("entries") if hasattr(data, "get") else None
        entry = next((e for e in entries or [] if hasattr(e, "get") and e.get("id") == entry_id), None)
        if entry is None:
            continue
        entry["questions"].append(question)
        out = io.StringIO()
        yaml.dump(data, out)
        _write(path, out.getvalue())
        try:
            load_knowledge(knowledge_dir)
        except KnowledgeError as exc:
            _write(path, original)
            raise ExampleWriteError(
                "예시를 넣으면 지식 베이스가 깨져서 되돌렸어요: " + str(exc.problems[0])
            ) from exc
        return path
    raise ExampleWriteError(f"'{entry_id}' 항목이 지식 베이스에 없어요 (지워졌거나 이름이 바뀌었어요).")


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)  # atomic: the watcher never sees half a file


def decide(store: Store, knowledge_dir: Path, suggestion_id: int, *, approve: bool, admin: str) -> Decision:
    """Approve (append to the YAML) or reject one pending suggestion. The caller reloads on success."""
    found = next((s for s in pending(store, limit=1000) if s.id == suggestion_id), None)
    if found is None:
        return Decision(False, f"대기 중인 제안 #{suggestion_id} 이 없어요 (이미 처리됐을 수 있어요).")
    if not approve:
        if store.decide_example(suggestion_id, status="rejected", admin=admin) is None:
            return Decision(False, f"제안 #{suggestion_id} 은 이미 처리됐어요.")
        return Decision(True, f"제안 #{suggestion_id} 을 거절했어요: “{found.question}”", found)
    try:
        path = append_example(knowledge_dir, found.entry_id, found.question)
    except OSError as exc:  # a read-only knowledge/ (an image without a writable volume), a full disk
        log.warning("approving suggestion %s: cannot write %s: %s", suggestion_id, knowledge_dir, exc)
        return Decision(
            False,
            f"지식 파일을 쓸 수 없어요 ({type(exc).__name__}): knowledge/ 가 쓰기 가능한지 확인해 주세요.",
        )
    except ExampleWriteError as exc:
        log.warning("approving suggestion %s failed: %s", suggestion_id, exc)
        return Decision(False, str(exc), found)
    if store.decide_example(suggestion_id, status="approved", admin=admin) is None:
        log.warning("suggestion %s was decided elsewhere while its example was written", suggestion_id)
    log.info(
        "suggestion %s approved by %s: example added to %s in %s", suggestion_id, admin, found.entry_id, path
    )
    return Decision(
        True, f"“{found.question}” 을 `{found.entry_id}` 의 예시 질문으로 {path.name} 에 넣었어요.", found
    )
