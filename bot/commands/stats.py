"""`dockbot stats [--json] [--suggest] [--approve ID | --reject ID]`: what the admins should write next, from
the store at DOCKBOT_DB, and the suggested example questions to approve or reject."""

from __future__ import annotations

import logging
import sys

from bot.config import Settings
from bot.control_chars import for_terminal, json_for_terminal
from bot.render import render_text
from bot.stats import StatsReport, build_report

log = logging.getLogger(__name__)


def run_stats(as_json: bool = False, suggest: bool = False) -> int:
    """Print the stats report; exit 1 when there is no store to read (DOCKBOT_DB unset)."""
    settings = Settings.from_env()
    if settings.db_target is None:
        report = StatsReport(available=False, suggestions=[] if suggest else None)
        _print(report, as_json)
        return 1
    if settings.db_path is not None and not settings.db_path.exists():
        # Nothing recorded yet is a report of zeros, not an error (and reading creates no file).
        print(f"DOCKBOT_DB={settings.db_path}: 아직 파일이 없습니다 (기록된 질문 없음).", file=sys.stderr)
        empty = StatsReport(
            available=True,
            outcomes=dict.fromkeys(("answered", "suggested", "no_answer", "invalid"), 0),
            suggestions=[] if suggest else None,
            examples=[] if suggest else None,
        )
        _print(empty, as_json)
        return 0
    from bot.database import open_store

    # On PostgreSQL this is every replica's questions, votes and demo audit: they all write there.
    store = open_store(settings.db_target, retention_days=settings.retention_days)
    kb = matcher = None
    try:
        from bot.live_knowledge import LiveKnowledge

        snapshot = LiveKnowledge.load(settings.knowledge_dir).current
        kb, matcher = snapshot.kb, snapshot.matcher
    except Exception as exc:  # stats still help while the knowledge base is broken: ids stay untitled
        log.warning("knowledge base not loaded for stats: %s", exc)
        print(f"경고: 지식 베이스를 읽지 못해 제목과 YAML 제안 없이 보여 줍니다 ({exc})", file=sys.stderr)
    try:
        report = build_report(store, kb, matcher=matcher, suggest=suggest, review_days=settings.review_days)
    finally:
        store.close()
    _print(report, as_json)
    return 0


def _print(report: StatsReport, as_json: bool) -> None:
    """The report holds what anyone in Slack typed: nothing in it may act on the admin's terminal."""
    if as_json:
        print(json_for_terminal(report.to_json()))
    else:
        print(for_terminal(render_text("stats.txt.j2", report=report)))


def run_decide(suggestion_id: int, *, approve: bool) -> int:
    """`--approve ID` / `--reject ID`: a running bot picks the edited YAML up by itself (hot reload)."""
    import getpass

    from bot.suggestions import decide

    settings = Settings.from_env()
    if settings.db_target is None or (settings.db_path is not None and not settings.db_path.exists()):
        print("DOCKBOT_DB 에 기록이 없어서 처리할 제안이 없습니다.", file=sys.stderr)
        return 1
    from bot.database import open_store

    store = open_store(settings.db_target, retention_days=settings.retention_days)
    try:
        decision = decide(
            store, settings.knowledge_dir, suggestion_id, approve=approve, admin=f"cli:{getpass.getuser()}"
        )
    finally:
        store.close()
    print(decision.message, file=sys.stdout if decision.ok else sys.stderr)
    return 0 if decision.ok else 1
