"""`dockbot ask "질문"` / `dockbot ask --json "질문"` / `dockbot ask --json -` (one question per stdin line).

Stays light on purpose (cold start <= 0.5 s): no Slack, docker or store imports on this path.
"""

from __future__ import annotations

import contextlib
import json
import sys
from typing import TextIO

from bot.matcher import Answer, Match


def answer_json(answer: Answer) -> dict:
    """The CLI contract: {"question", "outcome", "match": {"id","title","score"}|null, "alternatives": [...]};
    outcome: answered | suggested | no_answer | smalltalk | invalid."""

    def one(match: Match) -> dict:
        return {"id": match.entry.id, "title": match.entry.title, "score": round(float(match.score), 4)}

    return {
        "question": answer.question,
        "outcome": answer.outcome,
        "match": one(answer.match) if answer.match is not None else None,
        "alternatives": [one(m) for m in answer.alternatives],
    }


def utf8_streams() -> None:
    """Korean out, whatever the locale says; undecodable input bytes become U+FFFD instead of a crash."""
    for stream, errors in ((sys.stdout, "strict"), (sys.stdin, "replace")):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            # Already read from or not reconfigurable: keep the stream as it is.
            with contextlib.suppress(ValueError, OSError):
                reconfigure(encoding="utf-8", errors=errors)


def run_ask(
    question: str, *, as_json: bool = False, stdin: TextIO | None = None, stdout: TextIO | None = None
) -> int:
    if stdin is None and stdout is None:
        utf8_streams()
    stdin = stdin or sys.stdin
    stdout = stdout or sys.stdout
    from bot.brain import build_brain
    from bot.config import ConfigError
    from bot.knowledge import KnowledgeError

    try:
        # One question: a provisional fit on an empty cache keeps the cold start fast (bot/thresholds.py);
        # a batch from stdin gets the full fit, so every answer of the batch uses the same thresholds.
        # No demos and no store: `ask` records nothing and never touches Docker.
        brain = build_brain(with_demos=False, with_store=False, quick=question != "-")
    except ConfigError as exc:
        print(f"설정 오류: {exc}", file=sys.stderr)
        return 2
    except KnowledgeError as exc:
        print(
            "지식 베이스(knowledge/)에 문제가 있어서 답할 수 없어요. `dockbot validate`로 확인하세요:",
            file=sys.stderr,
        )
        for problem in exc.problems:
            print(str(problem), file=sys.stderr)
        return 1
    from bot.answer_view import answer_text

    questions = (line.rstrip("\r\n") for line in stdin) if question == "-" else iter([question])
    for text in questions:
        snapshot = brain.snapshot()  # one version of the knowledge for this answer and its text
        answer = brain.ask(text, source="cli", snapshot=snapshot)
        if as_json:
            stdout.write(json.dumps(answer_json(answer), ensure_ascii=False) + "\n")
        else:
            stdout.write(answer_text(answer, snapshot.kb) + "\n")
            if question == "-":
                stdout.write("\n")
        stdout.flush()
    return 0
