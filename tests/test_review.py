"""Answers that stay true (bot/review.py) and drafts (bot/drafts.py): `owner:` / `verified:` in the schema,
`dockbot validate` warnings past DOCKBOT_REVIEW_DAYS, drafts checked but never matched."""

from __future__ import annotations

import io
import re
from datetime import date, timedelta
from pathlib import Path

import pytest

from bot.answer_view import answer_text
from bot.commands.validate import run_validate
from bot.drafts import draft_yaml, write_draft
from bot.knowledge import load_knowledge
from bot.review import due_for_review, last_checked_label
from bot.thresholds import lexical_matcher


@pytest.fixture(autouse=True)
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


def stamp(kb_dir: Path, entry_id: str, *, owner: str | None, verified: str | None) -> None:
    """Set (or, with None, remove) owner/verified under `- id: entry_id` in its file, as an admin would."""
    pattern = re.compile(rf"^  - id: {re.escape(entry_id)}\n(    owner: .*\n)?(    verified: .*\n)?", re.M)
    for path in kb_dir.glob("*.yaml"):
        text = path.read_text(encoding="utf-8")
        if pattern.search(text):
            fields = (f"    owner: {owner}\n" if owner else "") + (
                f"    verified: {verified}\n" if verified else ""
            )
            head = f"  - id: {entry_id}\n{fields}"
            stamped = pattern.sub(lambda _, head=head: head, text, count=1)
            path.write_text(stamped, encoding="utf-8")
            return
    raise AssertionError(f"{entry_id} not found")


def validate(kb_dir: Path) -> tuple[int, list[str]]:
    out = io.StringIO()
    code = run_validate(str(kb_dir), stdout=out)
    return code, out.getvalue().splitlines()


def test_owner_and_verified_are_loaded(knowledge_copy: Path) -> None:
    stamp(knowledge_copy, "volume-named", owner="U0123ABCD", verified="2026-11-20")
    stamp(knowledge_copy, "volume-anonymous", owner="플랫폼팀", verified='"2026-10-02"')
    stamp(knowledge_copy, "volume-basics", owner=None, verified=None)
    kb = load_knowledge(knowledge_copy)
    named, anonymous = kb.get("volume-named"), kb.get("volume-anonymous")
    assert (named.owner, named.verified) == ("U0123ABCD", date(2026, 11, 20))
    assert (anonymous.owner, anonymous.verified) == ("플랫폼팀", date(2026, 10, 2))
    assert last_checked_label(named) == "마지막 확인: 2026-11"
    assert last_checked_label(kb.get("volume-basics")) == ""
    # The terminal answer says when it was last checked; one never verified says nothing about it.
    matcher = lexical_matcher(kb)
    assert "마지막 확인: 2026-11" in answer_text(matcher.match("명명된 볼륨이 뭐야?"), kb)
    assert "마지막 확인" not in answer_text(matcher.match("볼륨이란?"), kb)


def test_validate_warns_past_the_review_days_without_failing(
    knowledge_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = (date.today() - timedelta(days=200)).isoformat()
    fresh = (date.today() - timedelta(days=10)).isoformat()
    stamp(knowledge_copy, "volume-named", owner="U0123ABCD", verified=old)
    stamp(knowledge_copy, "volume-anonymous", owner="U0456EFGH", verified=fresh)
    code, lines = validate(knowledge_copy)
    assert code == 0, "\n".join(lines)
    warned = [line for line in lines if "warning:" in line and "last verified" in line]
    assert len(warned) == 1 and "'volume-named'" in warned[0] and "owner: U0123ABCD" in warned[0]
    assert warned[0].startswith(str(knowledge_copy / "volumes.yaml")) or "volumes.yaml:" in warned[0]
    monkeypatch.setenv("DOCKBOT_REVIEW_DAYS", "5")
    _, lines = validate(knowledge_copy)
    assert sum("last verified" in line for line in lines) == 2
    kb = load_knowledge(knowledge_copy)
    assert [d.entry_id for d in due_for_review(kb, review_days=5)] == ["volume-named", "volume-anonymous"]


def test_a_bad_verified_date_is_an_error_at_its_line(knowledge_copy: Path) -> None:
    stamp(knowledge_copy, "volume-named", owner="U0123ABCD", verified="지난주")
    code, lines = validate(knowledge_copy)
    assert code == 1
    assert any("volumes.yaml:" in line and "YYYY-MM-DD" in line for line in lines)


def test_an_impossible_date_is_an_error_at_its_line(knowledge_copy: Path) -> None:
    stamp(knowledge_copy, "volume-named", owner="U0123ABCD", verified="2026-13-45")
    code, lines = validate(knowledge_copy)
    assert code == 1
    assert any("volumes.yaml:" in line and "month must be in 1..12" in line for line in lines)


def test_a_draft_is_validated_but_never_matched(knowledge_copy: Path) -> None:
    question = "helm 차트 values 파일을 환경별로 나누려면?"
    text = draft_yaml(
        draft_id="draft-helm-values",
        question=question,
        replies="<@U0EXPERT1>: values-dev.yaml, values-prod.yaml 로 나누고 `helm install -f` 로 골라요.\n",
        variants=["헬름 values 환경별로 어떻게 나눠?"],
        owner="U0EXPERT1",
        today=date(2026, 12, 3),
    )
    path = write_draft(knowledge_copy, "draft-helm-values", text)
    assert path == knowledge_copy / "drafts" / "draft-helm-values.yaml"
    assert text.startswith("# 초안")
    code, lines = validate(knowledge_copy)
    assert code == 0, "\n".join(lines)  # a draft's problems are warnings: it is not live
    assert any("drafts/draft-helm-values.yaml:" in line and "draft:" in line for line in lines)
    kb = load_knowledge(knowledge_copy)
    assert kb.get("draft-helm-values") is None
    answer = lexical_matcher(kb).match(question)
    assert answer.match is None or answer.match.entry.id != "draft-helm-values"
    # Moved into an entries file (with enough examples), the same YAML is a valid entry.
    from ruamel.yaml import YAML

    entry = YAML().load(text)["entries"][0]
    assert entry["owner"] == "U0EXPERT1" and entry["verified"] == date(2026, 12, 3)
    assert "<@" not in entry["answer"] and "helm install -f" in entry["answer"]
