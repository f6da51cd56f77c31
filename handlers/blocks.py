"""Block Kit layouts in Python: each function turns prepared view data into a list of blocks (plain dicts).

The callers (handlers/views.py, home.py, review.py) prepare safe strings first: user text quoted, code in
code blocks, long text split into section-sized parts; these functions only lay them out, escaping what they
put in themselves (titles, names) with `escape_mrkdwn`. Jinja2 still renders the messages' fallback TEXT
(bot/templates/*.txt.j2), shared with the terminal door. Limits are applied afterwards by `fit_message`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from bot.render import escape_mrkdwn

Block = dict[str, Any]

EXAMPLES_KO = (
    "예: `@dockbot 명명된 볼륨이 뭐야?` · `/docker 컨테이너 지웠더니 데이터가 날아갔어요` · "
    "도움말 `/dockbot help`"
)
NO_ANSWER_HINT_KO = (
    "저는 Docker(컨테이너 실행·로그·포트·환경 변수, 이미지·Dockerfile·레지스트리, 볼륨, 네트워크, "
    "Compose)와 Kubernetes(파드, 디플로이먼트, 서비스·Ingress, ConfigMap/Secret, 프로브, PV/PVC, HPA, "
    "kubectl…)를 답해요."
)
INVALID_KO = "질문을 읽을 수 없어요. 궁금한 내용을 글로 적어 주세요."
BROADCAST_NOTE_KO = "참고: 질문 속 @channel·@here 같은 전체 알림은 답변에 옮기지 않아요."


def section(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def context(text: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}


def header(text: str) -> Block:
    return {"type": "header", "text": {"type": "plain_text", "text": text}}


def divider() -> Block:
    return {"type": "divider"}


def button(action_id: str, label: str, value: str, *, style: str = "") -> Block:
    element: Block = {"type": "button", "action_id": action_id}
    if style:
        element["style"] = style
    element["text"] = {"type": "plain_text", "text": label}
    element["value"] = value
    return element


def actions_block(block_id: str, elements: list[Block]) -> Block:
    return {"type": "actions", "block_id": block_id, "elements": elements}


def truncate(text: str, length: int, end: str = "...") -> str:
    """Cut at a word boundary with `end` (what the stats report always did, as Jinja's `truncate`)."""
    if len(text) <= length + 5:
        return text
    return text[: length - len(end)].rsplit(" ", 1)[0] + end


# ---- answers -----------------------------------------------------------------------------------------


def answer_blocks(
    *,
    outcome: str,
    question: str,
    reason: str,
    entry: Mapping[str, Any] | None,
    score_pct: int | None,
    picks: Sequence[Mapping[str, str]],
    ephemeral: bool,
    shared_by: str,
    broadcast_note: bool,
    recorded: bool,
    ask_human: str,
    action_ids: Mapping[str, str],
) -> list[Block]:
    """One Answer. `question` and `reason` are already escaped; `entry` is the view of handlers/views.py."""
    blocks: list[Block] = []
    if shared_by:
        blocks.append(context(f"<@{shared_by}> 님이 공유한 답변"))
    if outcome == "answered" and entry:
        blocks += _entry_blocks(entry, score_pct=score_pct, picks=picks, ephemeral=ephemeral, ids=action_ids)
    elif outcome == "suggested":
        blocks.append(section(f":mag: 딱 맞는 답은 찾지 못했어요. 혹시 이것을 찾으셨나요?\n> {question}"))
    elif outcome == "smalltalk":
        blocks.append(section(reason))
    elif outcome == "no_answer":
        recorded_note = "관리자들이 볼 수 있게 기록해 두었어요. " if recorded else ""
        blocks.append(
            section(
                f":thinking_face: 아직 이 질문에는 답을 드릴 수 없어요.\n> {question}\n"
                f"{recorded_note}{reason or NO_ANSWER_HINT_KO}"
            )
        )
    else:
        blocks.append(section(f":warning: {reason or INVALID_KO}"))
    if outcome != "answered" and picks:
        blocks.append(_block_of_picks("dockbot_suggestions", picks))
    if ask_human:
        blocks.append(
            actions_block(
                "dockbot_ask_human", [button(action_ids["ask_human"], "🙋 사람에게 물어보기", ask_human)]
            )
        )
    if outcome not in ("answered", "smalltalk"):
        blocks.append(context(EXAMPLES_KO))
    if broadcast_note:
        blocks.append(context(BROADCAST_NOTE_KO))
    return blocks


def _entry_blocks(
    entry: Mapping[str, Any],
    *,
    score_pct: int | None,
    picks: Sequence[Mapping[str, str]],
    ephemeral: bool,
    ids: Mapping[str, str],
) -> list[Block]:
    blocks = [section(f":whale: *{escape_mrkdwn(entry['title'])}*")]
    blocks += [section(part) for part in entry["parts"]]
    blocks += [section(command) for command in entry["commands"]]
    if entry["sources"]:
        blocks.append(context(":book: *자세히 보기* " + " · ".join(entry["sources"])))
    if picks:
        blocks.append(context("*관련 항목* — 눌러서 바로 볼 수 있어요"))
        blocks.append(_block_of_picks("dockbot_related", picks))
    buttons = []
    if entry["demo"]:
        buttons.append(button(ids["run_demo"], "▶ 데모 실행", entry["demo"], style="primary"))
    buttons.append(button(ids["vote_up"], "👍 도움 됐어요", entry["id"]))
    buttons.append(button(ids["vote_down"], "👎 아쉬워요", entry["id"]))
    if ephemeral:
        buttons.append(button(ids["share"], "📢 채널에 공유", entry["id"]))
    blocks.append(actions_block("dockbot_answer_actions", buttons))
    footer = f"`{entry['id']}`" + (f" · 일치도 {score_pct}%" if score_pct is not None else "")
    blocks.append(context(footer))
    return blocks


def _block_of_picks(block_id: str, picks: Iterable[Mapping[str, str]]) -> Block:
    return actions_block(block_id, [button(p["action_id"], p["label"], p["value"]) for p in picks])


def notice_blocks(text: str, *, context_line: str = "") -> list[Block]:
    """A short notice; `text` is mrkdwn the caller made safe."""
    return [section(text), *([context(context_line)] if context_line else [])]


# ---- demos -------------------------------------------------------------------------------------------


def demo_list_blocks(demos: Sequence[Mapping[str, str]], *, notice: str, can_run_here: bool) -> list[Block]:
    """The demo list, shown only to the asker; `can_run_here` False: no run buttons."""
    blocks = [section(notice)] if notice else []
    if not demos:
        return [*blocks, section("지금은 실행할 수 있는 데모가 없어요.")]
    blocks.append(
        section(
            "*실행할 수 있는 데모* — `/demo 이름` 으로 실행하면 진짜 컨테이너에서 단계별 결과를 보여드려요."
        )
    )
    for demo in demos[:20]:
        item = section(
            f"`{demo['name']}` — *{escape_mrkdwn(demo['title'])}*\n{escape_mrkdwn(demo['explanation'])}"
        )
        if can_run_here:
            item["accessory"] = button(demo["action_id"], "▶ 실행", demo["name"])
        blocks.append(item)
    return blocks


def demo_blocks(
    *,
    name: str,
    title: str,
    user: str,
    explanation: str,
    steps: Sequence[Mapping[str, Any]],
    total_steps: int,
    finished: bool,
    ok: bool,
    interrupted: bool,
    error: str,
    conclusion: str,
    duration: str,
    run_id: str,
) -> list[Block]:
    """The live /demo message, edited after every step. Step commands and outputs are code blocks already,
    `error`s are escaped: container output can never ping."""
    by = f" — <@{user}> 님이 실행" if user else ""
    blocks = [section(f":whale: *데모: {escape_mrkdwn(title)}* (`{name}`){by}")]
    if explanation:
        blocks.append(context(escape_mrkdwn(explanation)))
    for step in steps:
        icon = ":white_check_mark:" if step["ok"] else ":x:"
        lines = [f"{icon} *{step['number']}. {escape_mrkdwn(step['title'])}*  _{step['duration']}초_"]
        lines.append(step["command"])
        if step["output"]:
            lines.append(step["output"])
        lines += [("✅ " if held else "❌ ") + text for text, held in step["expectations"]]
        if step["error"]:
            lines.append(f":warning: {step['error']}")
        blocks.append(section("\n".join(lines)))
    progress = f"{len(steps)}" + (f"/{total_steps}" if total_steps else "")
    if not finished:
        return [*blocks, context(f":hourglass_flowing_sand: 실행 중… {progress} 단계 완료")]
    run_note = f" · 실행 ID `{run_id}`" if run_id else ""
    blocks.append(divider())
    if interrupted:
        blocks.append(
            section(
                f":octagonal_sign: *중단됨* — {progress} 단계에서 멈췄어요. 봇이 재시작되거나 종료되는 "
                f"중이었어요. 다시 `/demo {name}` 로 실행해 주세요."
            )
        )
        blocks.append(context(f"{duration}초 · 만든 것은 모두 정리했어요{run_note}"))
    elif ok:
        blocks.append(section(f":tada: *결론* {escape_mrkdwn(conclusion)}"))
        blocks.append(
            context(f"✅ 모든 확인 통과 · {duration}초 · 만든 컨테이너와 볼륨은 모두 정리했어요{run_note}")
        )
    else:
        blocks.append(
            section(f":x: *데모가 예상대로 끝나지 않았어요.* {error or '일부 확인이 맞지 않았어요.'}")
        )
        blocks.append(context(f"{duration}초 · 만든 것은 모두 정리했어요{run_note}"))
    return blocks


# ---- help, home, review, stats -----------------------------------------------------------------------


def help_blocks(*, is_admin: bool, demos: Sequence[Mapping[str, str]]) -> list[Block]:
    """`/dockbot help` in Korean."""
    demo_lines = [f"• `/demo {d['name']}` — {escape_mrkdwn(d['title'])}" for d in demos[:15]]
    blocks = [
        header("dockbot 사용법"),
        section(
            "*질문하기* — Docker·Kubernetes 질문을 편하게 한국어로 물어보세요.\n"
            "• 채널에서 `@dockbot 명명된 볼륨이 뭐야?` → 질문한 메시지의 스레드에 답해요.\n"
            "• 저에게 DM을 보내면 DM으로 답해요.\n"
            "• `/docker 컨테이너 지웠더니 데이터가 날아갔어요` → 나만 보이는 답이 오고, "
            "*📢 채널에 공유* 버튼으로 채널에 올릴 수 있어요."
        ),
        section(
            "*답변의 버튼*\n"
            "• 딱 맞는 답이 없으면 후보를 버튼으로 보여드려요. 누르면 그 답을 올려요.\n"
            "• *▶ 데모 실행*: 그 주제의 라이브 데모를 바로 실행해요.\n"
            "• *👍 / 👎*: 답이 도움이 됐는지 알려 주세요. 관리자가 지식 베이스를 고치는 데 써요."
        ),
        section(
            "*라이브 데모* — `/demo 이름`: 진짜 컨테이너에서 단계별로 실행하고 메시지를 고쳐 가며 결과(명령, "
            "출력, ✅/❌)를 보여드려요. `/demo list` 로 목록을 볼 수 있어요. 한 사람당 한 번에 하나씩 "
            "실행돼요.\n" + "\n".join(demo_lines)
        ),
    ]
    if is_admin:
        blocks.append(
            section(
                "*관리자 명령*\n"
                "• `/dockbot reload` — knowledge/ YAML을 지금 다시 읽어요. "
                "잘못된 파일이면 이전 버전으로 계속 답하고 `파일:줄` 을 알려 드려요.\n"
                "• `/dockbot stats` — 답하지 못한 질문, 👎가 많은 항목, 데모 실행 현황.\n"
                "• `/dockbot review` — 쓰면서 모인 예시 질문 제안을 승인·거절하고, "
                "다시 확인할 답변(담당자)을 봐요."
            )
        )
    else:
        blocks.append(context("`/dockbot reload`, `/dockbot stats`, `/dockbot review` 는 관리자 전용이에요."))
    return blocks


def home_blocks(
    *,
    demos: Sequence[Mapping[str, str]],
    demo_channels: Sequence[str],
    topics: Sequence[Any],
    is_admin: bool,
    stats_blocks: Sequence[Block],
) -> list[Block]:
    """The App Home tab (at most 100 blocks: the caller cuts `stats_blocks` to fit)."""
    demo_text = "".join(f"• `/demo {d['name']}` — {escape_mrkdwn(d['title'])}\n" for d in demos[:20])
    if not demos:
        demo_text = "지금 실행할 수 있는 데모가 없습니다."
    elif demo_channels:
        demo_text += "데모를 실행할 수 있는 채널: " + ", ".join(
            f"<#{escape_mrkdwn(c)}>" for c in demo_channels
        )
    topic_text = "".join(
        f"{i}. {escape_mrkdwn(t.title)} ({t.count}회)\n" for i, t in enumerate(topics[:10], start=1)
    )
    blocks = [
        header("dockbot: Docker·Kubernetes 질문과 데모"),
        section(
            "채널에서 저를 멘션하거나 DM으로 물어보세요. 예: `명명된 볼륨이 뭐야?` · "
            "`/docker 컨테이너 지웠더니 데이터가 날아갔어요` · 도움말은 `/dockbot help`"
        ),
        divider(),
        section("*누구나 실행할 수 있는 데모*\n" + demo_text),
        section("*많이 묻는 주제*\n" + (topic_text or "아직 질문 기록이 없습니다.")),
    ]
    if is_admin and stats_blocks:
        blocks += [divider(), header("관리자: 통계 요약"), *stats_blocks]
    return blocks


def review_blocks(
    *,
    items: Sequence[Mapping[str, Any]],
    total: int,
    notice: str,
    due: Sequence[Mapping[str, Any]],
    approve_action: str,
    reject_action: str,
) -> list[Block]:
    """Suggested example questions waiting for an admin, and entries past their review date."""
    blocks = [section(notice)] if notice else []
    if items:
        blocks.append(
            section(
                "*예시 질문 제안* — 승인하면 그 항목의 YAML `questions:` 에 추가되고 바로 다시 읽어요. "
                f"({total}개 대기)"
            )
        )
        for s in items:
            blocks.append(
                section(
                    f"#{s['id']} `{s['entry_id']}` {escape_mrkdwn(s['title'])}\n"
                    f"> {s['question']}\n_{s['reason']}_"
                )
            )
            value = str(s["id"])
            buttons = [
                button(approve_action, "✅ 승인", value, style="primary"),
                button(reject_action, "✖ 거절", value, style="danger"),
            ]
            blocks.append(actions_block(f"dockbot_example_{s['id']}", buttons))
    else:
        blocks.append(section("검토할 예시 질문 제안이 없어요."))
    if due:
        lines = [
            f"• `{d['entry_id']}` {escape_mrkdwn(d['title'])} — "
            f"마지막 확인 {d['verified']} ({d['days']}일 전)"
            + (f" · 담당 {escape_mrkdwn(d['owner'])}" if d["owner"] else " · 담당자 없음")
            for d in due
        ]
        blocks.append(section("*다시 확인할 답변* (DOCKBOT_REVIEW_DAYS 지남)\n" + "\n".join(lines)))
    return blocks


def stats_blocks(report: Any, *, max_groups: int = 8) -> list[Block]:
    """`/dockbot stats` for admins (bot.stats.StatsReport). Quoted user text is escaped and truncated."""
    if not report.available:
        return [section("통계 저장소가 없습니다: `DOCKBOT_DB`에 SQLite 파일 경로를 설정하세요.")]
    o = report.outcomes
    blocks = [
        header("dockbot 통계"),
        section(
            f"질문 *{report.total_questions}*개 · 답변 {o.get('answered', 0)} · "
            f"추천만 {o.get('suggested', 0)} · 답 없음 {o.get('no_answer', 0)} · "
            f"잘못된 입력 {o.get('invalid', 0)} · 답변률 *{report.answered_rate * 100:.0f}%*"
        ),
        divider(),
        section("*답하지 못했거나 자신 없던 질문* (비슷한 것끼리, 많이 물은 순)"),
    ]
    for i, group in enumerate(report.groups[:max_groups], start=1):
        line = f"*{i}.* ×{group.count}  “{escape_mrkdwn(truncate(group.representative, 150))}”"
        if group.entry_id:
            line += f"  → 봇의 추측 `{group.entry_id}`"
        line += "".join(f"\n      • {escape_mrkdwn(truncate(text, 150))}" for text in group.examples[1:4])
        blocks.append(section(line))
    if not report.groups[:max_groups]:
        blocks.append(section("없음: 모든 질문에 자신 있게 답했습니다."))
    down = [
        f"• `{f.entry_id}` {escape_mrkdwn(f.title)} — 👎 {f.down} · 👍 {f.up}"
        for f in report.feedback
        if f.down
    ][:10]
    demo_lines = []
    for d in report.demos[:10]:
        line = (
            f"• `{d.scenario}` {d.runs}회, 실패 {d.failures} ({d.failure_rate * 100:.0f}%), "
            f"평균 {d.avg_duration_s:.1f}초"
        )
        if d.last_error:
            line += f" — {escape_mrkdwn(truncate(d.last_error, 100))}"
        demo_lines.append(line)
    blocks += [
        divider(),
        section("*👎 많은 항목*\n" + ("\n".join(down) or "👎 없음")),
        section("*데모 실행*\n" + ("\n".join(demo_lines) or "아직 실행 기록 없음")),
        context("YAML 제안은 터미널에서 `dockbot stats --suggest`"),
    ]
    return blocks
