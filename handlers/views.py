"""Slack messages (Block Kit + fallback text) from core results.

This module prepares safe strings (escaped user text, code blocks, section-sized parts); handlers/blocks.py
lays them out as blocks and Jinja2 (bot/templates/*.txt.j2, shared with the terminal) renders the fallback
text; every message is passed through `fit_message` so Slack never rejects it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from bot.matcher import Answer, Match
from bot.render import escape_mrkdwn, render_text
from handlers import blocks as layout
from handlers.blockkit import code_block, fit_message, split_for_sections
from handlers.slack_text import quote

SHARE_ACTION = "dockbot_share"
PICK_ACTION = "dockbot_pick"  # + "_<n>": action_ids must be unique within a message
RUN_DEMO_ACTION = "dockbot_run_demo"  # + "_<n>" on the demo list
VOTE_UP_ACTION = "dockbot_vote_up"
VOTE_DOWN_ACTION = "dockbot_vote_down"
ASK_HUMAN_ACTION = "dockbot_ask_human"
ASK_HUMAN_OUTCOMES = ("no_answer", "suggested")
MAX_BUTTONS = 5


@dataclass(frozen=True)
class Message:
    blocks: list[dict[str, Any]]
    text: str  # plain-text fallback for notifications and clients without Block Kit


def _message(blocks: list[dict[str, Any]], text_template: str, **context: Any) -> Message:
    fitted, text = fit_message(blocks, render_text(text_template, **context))
    return Message(blocks=fitted, text=text)


def _entry_view(entry: Any) -> dict[str, Any]:
    return {
        "id": entry.id,
        "title": entry.title,
        # Admin-written mrkdwn is kept as is (links like <https://…|docs> are allowed there).
        "parts": split_for_sections(entry.answer.strip()),
        "commands": [code_block(command, limit=2500) for command in entry.commands],
        "demo": entry.demo,
        # Validated https addresses without spaces, <, > or | (bot/knowledge.py), so a mrkdwn link is safe.
        "sources": [f"<{url}|{url.removeprefix('https://').rstrip('/')}>" for url in entry.sources],
    }


def _buttons(entries: Iterable[Any], *, start: int = 0) -> list[dict[str, str]]:
    seen: set[str] = set()
    out: list[dict[str, str]] = []
    for entry in entries:
        if entry is None or entry.id in seen:
            continue
        seen.add(entry.id)
        out.append(
            {"action_id": f"{PICK_ACTION}_{start + len(out)}", "label": entry.title, "value": entry.id}
        )
        if len(out) >= MAX_BUTTONS:
            break
    return out


def answer_message(
    answer: Any,
    *,
    kb: Any = None,
    ephemeral: bool = False,
    shared_by: str = "",
    broadcast_note: bool = False,
    show_score: bool = True,
    recorded: bool = False,
    ask_human: bool = False,
) -> Message:
    """An Answer (answered / suggested / no_answer / invalid) as a Slack message.

    `kb` resolves related entry ids to titles; `ephemeral` adds the "채널에 공유" button; `shared_by` marks
    a message shared into the channel by that user; `ask_human` offers "사람에게 물어보기" when the bot has no
    confident answer (DOCKBOT_EXPERTS_CHANNEL is set).
    """
    entry = answer.match.entry if answer.match is not None else None
    related: list[Any] = []
    if entry is not None and kb is not None:
        related = [kb.get(rid) for rid in entry.related]
    alternatives = [m.entry for m in answer.alternatives]
    picks = _buttons(alternatives) if entry is None else _buttons(related)
    context = {
        "outcome": answer.outcome,
        "question": quote(answer.question),
        "reason": escape_mrkdwn(answer.reason or ""),
        "entry": _entry_view(entry) if entry is not None else None,
        "score_pct": round(answer.match.score * 100) if answer.match is not None and show_score else None,
        "picks": picks,
        "ephemeral": ephemeral,
        "shared_by": shared_by,
        "broadcast_note": broadcast_note,
        "recorded": recorded,  # the question went to the store, so admins will see it in the stats
        # The question travels in the button's value (Slack caps a value at 2000 characters).
        "ask_human": answer.question[:1900] if ask_human and answer.outcome in ASK_HUMAN_OUTCOMES else "",
    }
    action_ids = {
        "share": SHARE_ACTION,
        "run_demo": RUN_DEMO_ACTION,
        "vote_up": VOTE_UP_ACTION,
        "vote_down": VOTE_DOWN_ACTION,
        "ask_human": ASK_HUMAN_ACTION,
    }
    return _message(layout.answer_blocks(**context, action_ids=action_ids), "answer.slack.txt.j2", **context)


def entry_message(entry: Any, *, kb: Any = None, ephemeral: bool = False, shared_by: str = "") -> Message:
    """One knowledge entry as an answer (a pressed suggestion, a shared answer): no score shown."""
    picked = Answer(question=entry.title, outcome="answered", match=Match(entry, 1.0), alternatives=())
    return answer_message(picked, kb=kb, ephemeral=ephemeral, shared_by=shared_by, show_score=False)


def notice_message(text: str, *, context_line: str = "") -> Message:
    """A short notice; `text` is mrkdwn the caller made safe (escape anything quoted from a user)."""
    blocks = layout.notice_blocks(text, context_line=context_line)
    return _message(blocks, "notice.txt.j2", text=text, context_line=context_line)


def demo_list_message(scenarios: Iterable[Any], *, notice: str = "", can_run_here: bool = True) -> Message:
    items = [
        {
            "name": s.name,
            "title": s.title,
            "explanation": " ".join(str(getattr(s, "explanation", "")).split())[:300],
            "action_id": f"{RUN_DEMO_ACTION}_{i}",
        }
        for i, s in enumerate(scenarios)
    ]
    blocks = layout.demo_list_blocks(items, notice=notice, can_run_here=can_run_here)
    return _message(blocks, "demo_list.txt.j2", demos=items, notice=notice, can_run_here=can_run_here)


def demo_message(run: Any | None, *, name: str, title: str, user: str, total_steps: int = 0) -> Message:
    """The live demo message: the steps so far with commands, outputs and ✅/❌, then the conclusion."""
    steps = []
    for number, step in enumerate(getattr(run, "steps", None) or [], start=1):
        steps.append(
            {
                "number": number,
                "title": step.title,
                "command": code_block(step.command, limit=600),
                "output": code_block(step.output, limit=900) if step.output.strip() else "",
                "expectations": [(escape_mrkdwn(text), held) for text, held in step.expectations],
                "ok": step.ok,
                "error": escape_mrkdwn(step.error or ""),
                "duration": f"{step.duration_s:.1f}",
            }
        )
    finished = bool(run is not None and run.finished)
    context: dict[str, Any] = {
        "name": name,
        "title": title,
        "user": user,
        "explanation": getattr(run, "explanation", "") if run is not None else "",
        "steps": steps,
        "total_steps": (getattr(run, "total_steps", 0) if run is not None else 0) or total_steps,
        "finished": finished,
        "ok": bool(run is not None and run.ok),
        "interrupted": bool(getattr(run, "interrupted", False)),
        "error": escape_mrkdwn(run.error or "") if run is not None else "",
        "conclusion": getattr(run, "conclusion", "") if run is not None else "",
        "duration": f"{run.duration_s:.1f}" if run is not None else "0",
        # The value of the dockbot.demo label on everything the run created (for operators and `dockbot gc`).
        "run_id": getattr(run, "run_id", "") if run is not None else "",
    }
    return _message(layout.demo_blocks(**context), "demo.slack.txt.j2", **context)


def help_message(*, is_admin: bool, demos: Iterable[Any] = ()) -> Message:
    items = [{"name": s.name, "title": s.title} for s in demos]
    blocks = layout.help_blocks(is_admin=is_admin, demos=items)
    return _message(blocks, "help.slack.txt.j2", is_admin=is_admin, demos=items)


def text_message(text: str) -> Message:
    """Preformatted text (e.g. a reload report) shown safely: escaped, split into sections."""
    safe = escape_mrkdwn(text)
    blocks = [layout.section(part) for part in split_for_sections(safe)]
    fitted, fallback = fit_message(blocks, safe)
    return Message(blocks=fitted, text=fallback)


def stats_message(report: Any) -> Message:
    blocks, text = fit_message(layout.stats_blocks(report, max_groups=8), "dockbot 통계 요약")
    return Message(blocks=blocks, text=text)
