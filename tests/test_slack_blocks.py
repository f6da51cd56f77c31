"""Units under the Slack door: Block Kit limits, quoting user text, answering each event once, and the
throttled/coalesced live demo message (with a recording messenger: no Slack, no Docker needed here)."""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.brain import build_brain
from bot.config import Settings
from bot.demos.result import DemoRun, StepResult
from bot.matcher import Answer, Match
from handlers.blockkit import MAX_TOTAL_CHARS, clip, code_block, fit_message
from handlers.demo_progress import DemoProgress, EditPacer
from handlers.recent import RecentKeys
from handlers.slack_text import question_from_slack, quote
from handlers.views import answer_message, demo_message, help_message

PINGS = ("<!channel>", "<!here>", "<!everyone>", "<@U", "<#C", "<!subteam")


@pytest.fixture(scope="module")
def brain():
    from slack_harness import KNOWLEDGE_DIR

    return build_brain(Settings(knowledge_dir=KNOWLEDGE_DIR), with_demos=False, with_store=False)


def _check_limits(blocks: list[dict[str, Any]]) -> None:
    assert len(blocks) <= 50
    assert len(json.dumps(blocks, ensure_ascii=False)) <= 13_000
    for block in blocks:
        if block["type"] == "section" and "text" in block:
            assert 0 < len(block["text"]["text"]) <= 3000
        for element in block.get("elements", []):
            if element.get("type") == "button":
                assert len(element["text"]["text"]) <= 75


# ---- quoting and Slack markup ----------------------------------------------------------------------


def test_question_from_slack_strips_markup_and_decodes_entities() -> None:
    q = question_from_slack(
        "<@UBOT> <!here> &lt;볼륨&gt; 이 뭐야? <https://docs.docker.com|문서> <#C123|general>", "UBOT"
    )
    assert q.text.split() == ["<볼륨>", "이", "뭐야?", "문서", "#general"]
    assert q.had_broadcast and not q.only_markup
    assert question_from_slack("<@UBOT>   ", "UBOT") == question_from_slack("", "UBOT")
    assert question_from_slack("<@UBOT> <!channel> <@UOTHER>", "UBOT").only_markup


@given(st.text(max_size=400))
@settings(max_examples=200, deadline=None)
def test_quote_never_lets_a_ping_or_control_character_through(text: str) -> None:
    for candidate in (text, f"<!channel> {text} <@U123>"):
        shown = quote(candidate)
        assert not any(p in shown for p in PINGS)
        assert "<" not in shown and ">" not in shown
        # Zero-width spaces only where they keep *, _, ~, ` from formatting.
        assert all(ch == " " or ch.isprintable() for ch in re.sub("\u200b[*_~`]\u200b", "", shown))
        assert len(shown) <= 200 * 5  # escaping can grow the cut text, never unbounded


def test_quote_keeps_formatting_characters_from_formatting() -> None:
    shown = quote("*굵게* _기울임_ ~취소~ `코드` a*b")
    assert re.search("(?<!\u200b)[*_~`]|[*_~`](?!\u200b)", shown) is None
    assert shown.replace("\u200b", "") == "*굵게* _기울임_ ~취소~ `코드` a*b"


def test_code_block_escapes_and_keeps_the_fence_closed() -> None:
    block = code_block("echo <!channel> ``` && rm\n" * 400, limit=500)
    assert block.startswith("```") and block.endswith("```") and block.count("```") == 2
    assert "<!channel>" not in block and len(block) <= 510


def test_clip_never_splits_an_escape_or_leaves_a_fence_open() -> None:
    text = "```\n" + "a &amp; b " * 500
    clipped = clip(text, 300)
    assert len(clipped) <= 300 and clipped.count("```") % 2 == 0
    assert not clipped.rstrip("…(생략)`\n").endswith(("&", "&a", "&am", "&amp"))


# ---- Block Kit limits ------------------------------------------------------------------------------


def test_fit_message_enforces_every_limit_and_keeps_the_buttons() -> None:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "가" * 5000}} for _ in range(80)]
    blocks.append(
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "action_id": "x",
                    "value": "v",
                    "text": {"type": "plain_text", "text": "버튼" * 60},
                }
            ],
        }
    )
    fitted, text = fit_message(blocks, "요약" * 5000)
    _check_limits(fitted)
    assert fitted[-1]["type"] == "actions" and len(text) <= 3000
    assert len(json.dumps(fitted, ensure_ascii=False)) <= MAX_TOTAL_CHARS


def test_every_entry_renders_within_limits_without_pings(brain) -> None:
    kb = brain.knowledge.current.kb
    for entry in kb.entries:
        for ephemeral in (False, True):
            answer = Answer(f"<!channel> {entry.title}", "answered", Match(entry, 0.9), ())
            message = answer_message(answer, kb=kb, ephemeral=ephemeral)
            _check_limits(message.blocks)
            ids = [e["action_id"] for b in message.blocks for e in b.get("elements", []) if "action_id" in e]
            assert len(ids) == len(set(ids)), "action ids are unique within a message"
            assert ("dockbot_run_demo" in ids) == bool(entry.demo)
            assert ("dockbot_share" in ids) == ephemeral
            assert "<!channel>" not in json.dumps(message.blocks) + message.text


def test_an_answer_links_its_sources_and_shows_related_entries_by_title(brain) -> None:
    kb = brain.knowledge.current.kb
    entry = kb.get("volume-cleanup")
    assert entry is not None and entry.sources and entry.related
    message = answer_message(Answer("볼륨 정리", "answered", Match(entry, 0.9), ()), kb=kb)
    contexts = [e["text"] for b in message.blocks if b["type"] == "context" for e in b["elements"]]
    more = [text for text in contexts if "자세히 보기" in text]
    assert more == [
        ":book: *자세히 보기* "
        + " · ".join(f"<{url}|{url.removeprefix('https://').rstrip('/')}>" for url in entry.sources)
    ]
    related = next(b for b in message.blocks if b.get("block_id") == "dockbot_related")
    labels = [button["text"]["text"] for button in related["elements"]]
    assert labels == [kb.get(rid).title for rid in entry.related][: len(labels)]
    assert not set(labels) & set(entry.related)  # titles, never ids


def test_suggestion_band_shows_the_alternatives_as_buttons(brain) -> None:
    kb = brain.knowledge.current.kb
    picks = tuple(Match(e, 0.5) for e in kb.entries[:3])
    message = answer_message(Answer("<@U1> 볼룸 어케 써", "suggested", None, picks), kb=kb)
    buttons = [e for b in message.blocks for e in b.get("elements", []) if e.get("type") == "button"]
    assert [b["value"] for b in buttons] == [e.id for e in kb.entries[:3]]
    assert all(b["action_id"].startswith("dockbot_pick_") for b in buttons)
    assert "&lt;@U1&gt;" in json.dumps(message.blocks, ensure_ascii=False)


def test_huge_demo_output_still_fits(brain) -> None:
    steps = [
        StepResult(
            f"단계 {i}",
            "docker run --rm busybox:1.36 sh -c 'yes <!channel>'",
            "<!here> y\n" * 2000,
            [("출력에 y", True)],
            True,
            0.1,
        )
        for i in range(40)
    ]
    run = DemoRun(
        demo="volumes", title="볼륨", ok=True, steps=steps, finished=True, conclusion="끝", total_steps=40
    )
    message = demo_message(run, name="volumes", title="볼륨", user="U1")
    _check_limits(message.blocks)
    dumped = json.dumps(message.blocks)
    assert "<!here>" not in dumped and "<!channel>" not in dumped and ":tada:" in dumped


def test_help_lists_commands_and_admin_part_only_for_admins() -> None:
    for admin in (True, False):
        text = json.dumps(help_message(is_admin=admin).blocks, ensure_ascii=False)
        assert "/docker" in text and "/demo" in text
        assert ("관리자 명령" in text) == admin


# ---- answering each event once -------------------------------------------------------------------


def test_recent_keys_answers_each_key_once_within_the_ttl() -> None:
    now = [0.0]
    recent = RecentKeys(ttl_s=600, max_keys=3, clock=lambda: now[0])
    assert recent.first_time("a") and not recent.first_time("a")
    now[0] = 599
    assert not recent.first_time("a")
    now[0] = 601
    assert recent.first_time("a")  # a genuinely new delivery after the TTL
    for key in "bcde":
        recent.first_time(key)
    assert len(recent) == 3  # bounded memory


def test_recent_keys_is_atomic_under_threads() -> None:
    recent = RecentKeys()
    wins: list[bool] = []
    threads = [threading.Thread(target=lambda: wins.append(recent.first_time("Ev1"))) for _ in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wins.count(True) == 1


# ---- the live demo message ----------------------------------------------------------------------


@dataclass
class _Posted:
    channel: str
    ts: str | None = "1.0"
    response_url: str | None = None
    uses: int = 0

    @property
    def edits_left(self) -> int | None:
        return None if self.ts else 5 - self.uses


@dataclass
class _RecordingMessenger:
    posts: list[Any] = field(default_factory=list)
    updates: list[tuple[float, str]] = field(default_factory=list)
    posted: _Posted | None = None

    def post(self, **kwargs: Any) -> _Posted:
        self.posts.append(kwargs)
        self.posted = _Posted(kwargs["channel"])
        return self.posted

    def update(self, posted: _Posted, *, text: str, blocks: Any = None) -> bool:
        self.updates.append((time.monotonic(), text))
        return True


@dataclass
class _Msg:
    text: str
    blocks: list[Any] = field(default_factory=list)


def _render(run: Any) -> _Msg:
    if run is None:
        return _Msg("0")
    return _Msg(f"{len(run.steps)}{' done' if run.finished else ''}")


def test_progress_is_throttled_coalesced_and_always_ends_with_the_result() -> None:
    messenger = _RecordingMessenger()
    progress = DemoProgress(
        messenger, _render, channel="C1", user="U1", pacer=EditPacer(), min_interval_s=0.3
    )
    run = DemoRun(demo="d", title="t", total_steps=10)
    progress.on_progress(run)  # progress before the message exists is shown when it is posted
    assert progress.start()
    started = time.monotonic()
    for i in range(10):  # ten steps in ~0.5 s: far faster than the edit interval
        run.steps.append(StepResult(f"s{i}", "c", "o", [], True, 0.05))
        progress.on_progress(run)
        time.sleep(0.05)
    run.finished, run.ok = True, True
    future: Future[DemoRun] = Future()
    future.set_result(run)
    progress.finish(future)
    assert progress.done.wait(10)
    texts = [text for _, text in messenger.updates]
    assert texts[-1] == "10 done" and len(messenger.posts) == 1
    # Coalesced: 11 reports, but never more than one edit per interval (+ the final one).
    elapsed = messenger.updates[-1][0] - started
    assert len(texts) <= elapsed / 0.3 + 2 and len(texts) < 11, texts
    times = [t for t, _ in messenger.updates]
    assert all(b - a >= 0.28 for a, b in itertools.pairwise(times))


def test_a_crashed_demo_still_gets_a_final_message() -> None:
    messenger = _RecordingMessenger()
    progress = DemoProgress(
        messenger,
        _render,
        channel="C1",
        user="U1",
        pacer=EditPacer(),
        min_interval_s=0.05,
        on_crash=lambda so_far: DemoRun(demo="d", title="t", finished=True, error="boom"),
    )
    progress.start()
    future: Future[DemoRun] = Future()
    future.set_exception(RuntimeError("engine died"))
    progress.finish(future)
    assert progress.done.wait(5)
    assert messenger.updates[-1][1] == "0 done"


def test_edit_pacer_spreads_a_burst_over_the_workspace_budget() -> None:
    now = [0.0]
    pacer = EditPacer(per_minute=60, burst=2, clock=lambda: now[0])
    waits = [pacer.reserve() for _ in range(5)]
    assert waits[:2] == [0.0, 0.0] and waits[2:] == pytest.approx([1.0, 2.0, 3.0])


# ---- the manifest ---------------------------------------------------------------------------------


def test_manifest_declares_exactly_what_the_app_listens_to() -> None:
    from pathlib import Path

    from bot.yamlfile import read_yaml

    manifest = read_yaml(Path(__file__).resolve().parent.parent / "slack-manifest.yaml").data
    commands = {c["command"] for c in manifest["features"]["slash_commands"]}
    assert commands == {"/docker", "/demo", "/dockbot"}
    assert set(manifest["settings"]["event_subscriptions"]["bot_events"]) == {
        "app_mention",
        "message.im",
        "message.channels",  # follow-ups without a mention in threads the bot answered; expert replies
        "message.groups",
        "app_home_opened",
    }
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    assert {"app_mentions:read", "chat:write", "commands", "im:history"} <= scopes
    assert {"channels:history", "groups:history"} <= scopes
    assert manifest["settings"]["interactivity"]["is_enabled"] is True
    assert manifest["settings"]["socket_mode_enabled"] is True
