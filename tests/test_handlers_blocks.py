"""handlers/blocks.py: the Block Kit layouts built in Python, unit-tested on plain view data."""

from __future__ import annotations

import json
from types import SimpleNamespace

from handlers import blocks
from handlers.blockkit import fit_message

ACTION_IDS = {
    "share": "share",
    "run_demo": "run",
    "vote_up": "up",
    "vote_down": "down",
    "ask_human": "human",
}
ENTRY = {
    "id": "volume-basics",
    "title": "볼륨 <b>",
    "parts": ["첫 부분", "둘째 부분"],
    "commands": ["```docker volume ls```"],
    "demo": "volumes",
    "sources": ["<https://docs.docker.com/|docs.docker.com>"],
}


def answer(**overrides: object) -> list[dict]:
    view = {
        "outcome": "answered",
        "question": "볼륨이 뭐야",
        "reason": "",
        "entry": ENTRY,
        "score_pct": 87,
        "picks": [],
        "ephemeral": False,
        "shared_by": "",
        "broadcast_note": False,
        "recorded": False,
        "ask_human": "",
    }
    view.update(overrides)
    return blocks.answer_blocks(**view, action_ids=ACTION_IDS)  # type: ignore[arg-type]


def texts(layout: list[dict]) -> str:
    return json.dumps(layout, ensure_ascii=False)


def buttons(layout: list[dict]) -> list[tuple[str, str]]:
    return [
        (element["action_id"], element["value"])
        for block in layout
        if block["type"] == "actions"
        for element in block["elements"]
    ]


def test_an_answer_has_title_parts_commands_sources_and_its_buttons():
    layout = answer()
    assert layout[0]["text"]["text"] == ":whale: *볼륨 &lt;b&gt;*"  # the title is escaped here
    assert [b["text"]["text"] for b in layout[1:4]] == ["첫 부분", "둘째 부분", "```docker volume ls```"]
    assert buttons(layout) == [("run", "volumes"), ("up", "volume-basics"), ("down", "volume-basics")]
    assert layout[-1]["elements"][0]["text"] == "`volume-basics` · 일치도 87%"
    assert next(b for b in layout if b["type"] == "actions")["elements"][0]["style"] == "primary"


def test_an_ephemeral_shared_answer_without_score_offers_sharing():
    layout = answer(ephemeral=True, shared_by="U1", score_pct=None)
    assert layout[0] == blocks.context("<@U1> 님이 공유한 답변")
    assert ("share", "volume-basics") in buttons(layout)
    assert layout[-1]["elements"][0]["text"] == "`volume-basics`"


def test_related_picks_follow_the_answer_and_suggestions_replace_it():
    picks = [{"action_id": "pick_0", "label": "네트워크", "value": "network-basics"}]
    related = answer(picks=picks)
    assert any(b.get("block_id") == "dockbot_related" for b in related)
    suggested = answer(outcome="suggested", entry=None, question="볼륨?", picks=picks)
    assert "혹시 이것을 찾으셨나요?\n> 볼륨?" in suggested[0]["text"]["text"]
    assert buttons(suggested) == [("pick_0", "network-basics")]
    assert suggested[-1] == blocks.context(blocks.EXAMPLES_KO)


def test_no_answer_says_it_was_recorded_and_offers_a_human():
    layout = answer(
        outcome="no_answer", entry=None, recorded=True, ask_human="원래 질문", broadcast_note=True
    )
    first = layout[0]["text"]["text"]
    assert "기록해 두었어요" in first and blocks.NO_ANSWER_HINT_KO in first
    assert buttons(layout) == [("human", "원래 질문")]
    assert layout[-1] == blocks.context(blocks.BROADCAST_NOTE_KO)


def test_invalid_and_smalltalk_show_the_reason():
    assert answer(outcome="invalid", entry=None)[0]["text"]["text"] == f":warning: {blocks.INVALID_KO}"
    smalltalk = answer(outcome="smalltalk", entry=None, reason="안녕하세요!")
    assert smalltalk == [blocks.section("안녕하세요!")]


def step(ok: bool) -> dict:
    return {
        "number": 1,
        "title": "만들기 <x>",
        "command": "```docker volume create```",
        "output": "",
        "expectations": [("있음", True), ("없음", False)],
        "ok": ok,
        "error": "" if ok else "실패함",
        "duration": "0.4",
    }


def demo(**overrides: object) -> list[dict]:
    view = {
        "name": "volumes",
        "title": "볼륨",
        "user": "U1",
        "explanation": "",
        "steps": [step(True)],
        "total_steps": 3,
        "finished": False,
        "ok": False,
        "interrupted": False,
        "error": "",
        "conclusion": "",
        "duration": "1.0",
        "run_id": "",
    }
    view.update(overrides)
    return blocks.demo_blocks(**view)  # type: ignore[arg-type]


def test_a_running_demo_shows_steps_and_progress():
    layout = demo()
    assert layout[0]["text"]["text"] == ":whale: *데모: 볼륨* (`volumes`) — <@U1> 님이 실행"
    assert layout[1]["text"]["text"].splitlines() == [
        ":white_check_mark: *1. 만들기 &lt;x&gt;*  _0.4초_",
        "```docker volume create```",
        "✅ 있음",
        "❌ 없음",
    ]
    assert layout[-1] == blocks.context(":hourglass_flowing_sand: 실행 중… 1/3 단계 완료")


def test_a_finished_demo_ends_with_its_conclusion_failure_or_interruption():
    passed = demo(finished=True, ok=True, conclusion="데이터가 남아요", run_id="r1")
    assert passed[-2] == blocks.section(":tada: *결론* 데이터가 남아요")
    assert passed[-1]["elements"][0]["text"].endswith("· 실행 ID `r1`")
    failed = demo(finished=True, steps=[step(False)], error="")
    assert "일부 확인이 맞지 않았어요." in failed[-2]["text"]["text"]
    assert ":warning: 실패함" in failed[1]["text"]["text"]
    stopped = demo(finished=True, interrupted=True)
    assert "중단됨" in stopped[-2]["text"]["text"] and "`/demo volumes`" in stopped[-2]["text"]["text"]


def test_demo_list_buttons_only_where_demos_may_run():
    demos = [{"name": "volumes", "title": "볼륨", "explanation": "설명 <!here>", "action_id": "run_0"}]
    here = blocks.demo_list_blocks(demos, notice="", can_run_here=True)
    assert here[1]["accessory"]["value"] == "volumes"
    assert "&lt;!here&gt;" in here[1]["text"]["text"]
    elsewhere = blocks.demo_list_blocks(demos, notice="여기선 안 돼요", can_run_here=False)
    assert elsewhere[0] == blocks.section("여기선 안 돼요") and "accessory" not in elsewhere[2]
    assert blocks.demo_list_blocks([], notice="", can_run_here=True) == [
        blocks.section("지금은 실행할 수 있는 데모가 없어요.")
    ]


def test_help_differs_for_admins():
    demos = [{"name": "volumes", "title": "볼륨"}]
    admin = texts(blocks.help_blocks(is_admin=True, demos=demos))
    user = blocks.help_blocks(is_admin=False, demos=demos)
    assert "*관리자 명령*" in admin and "• `/demo volumes` — 볼륨" in admin
    assert user[-1]["type"] == "context" and "관리자 전용" in texts(user)


def test_home_lists_demo_channels_topics_and_admin_stats():
    topics = [SimpleNamespace(title="볼륨 <x>", count=3)]
    stats = [blocks.section("통계")]
    home = blocks.home_blocks(
        demos=[{"name": "volumes", "title": "볼륨"}],
        demo_channels=["C1", "C2"],
        topics=topics,
        is_admin=True,
        stats_blocks=stats,
    )
    assert "<#C1>, <#C2>" in home[3]["text"]["text"]
    assert home[4]["text"]["text"] == "*많이 묻는 주제*\n1. 볼륨 &lt;x&gt; (3회)\n"
    assert home[-1] == stats[0] and home[-2] == blocks.header("관리자: 통계 요약")
    plain = blocks.home_blocks(demos=[], demo_channels=["C1"], topics=[], is_admin=False, stats_blocks=stats)
    assert "C1" not in texts(plain) and "관리자" not in texts(plain)


def test_review_items_get_approve_and_reject_buttons():
    items = [{"id": 7, "entry_id": "volume-basics", "title": "볼륨", "question": "질문", "reason": "이유"}]
    due = [{"entry_id": "e", "title": "t", "owner": "", "verified": "2026-01-01", "days": 400}]
    layout = blocks.review_blocks(
        items=items, total=1, notice="", due=due, approve_action="a", reject_action="r"
    )
    assert buttons(layout) == [("a", "7"), ("r", "7")]
    assert layout[-1]["text"]["text"].endswith("(400일 전) · 담당자 없음")
    empty = blocks.review_blocks(items=[], total=0, notice="", due=[], approve_action="a", reject_action="r")
    assert empty == [blocks.section("검토할 예시 질문 제안이 없어요.")]


def test_stats_escape_user_text_and_fit_slack():
    group = SimpleNamespace(
        count=2, representative="<!channel> " + "긴 질문 " * 100, entry_id="", examples=[]
    )
    report = SimpleNamespace(
        available=True,
        outcomes={"answered": 1, "no_answer": 2},
        total_questions=3,
        answered_rate=1 / 3,
        groups=[group] * 20,
        feedback=[SimpleNamespace(entry_id="e", title="t", down=1, up=0)],
        demos=[],
    )
    layout, _ = fit_message(blocks.stats_blocks(report, max_groups=8), "x")
    dumped = texts(layout)
    assert "<!channel>" not in dumped and "&lt;!channel&gt;" in dumped
    assert (
        "답변 1 · 추천만 0 · 답 없음 2" in dumped
        and "답변률 *33%*" in dumped
        and "아직 실행 기록 없음" in dumped
    )
    assert sum(1 for b in layout if "×2" in texts([b])) == 8
    assert blocks.stats_blocks(SimpleNamespace(available=False))[0]["text"]["text"].startswith(
        "통계 저장소가"
    )


def test_truncate_cuts_at_a_word():
    assert blocks.truncate("짧은 말", 150) == "짧은 말"
    cut = blocks.truncate("단어 " * 100, 20)
    assert cut.endswith("...") and len(cut) <= 20 and not cut.startswith(" ")
