"""Bad input for the matcher and `dockbot ask`: any Unicode, 0 to 100,000 characters, control and zero-width
characters, Slack markup, RTL text. Never an exception, always one of the outcomes, never a ping echoed.

The matcher runs on the repo's real knowledge base; `dockbot ask` runs as a real subprocess.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.slack_harness import REPO

OUTCOMES = {"answered", "suggested", "no_answer", "invalid", "smalltalk"}
MAX_CHARS = 100_000

CONTROL = [chr(c) for c in [*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0)]]
ZERO_WIDTH = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\u180e"]
BIDI = [
    "\u200e",
    "\u200f",
    "\u202a",
    "\u202b",
    "\u202c",
    "\u202d",
    "\u202e",
    "\u2066",
    "\u2067",
    "\u2068",
    "\u2069",
]
RTL_TEXT = ["שלום עולם מה זה דוקר", "ما هو الحاوية في دوكر؟", "ܫܠܡܐ", "‏דוקר וולום‏"]
SLACK_MARKUP = [
    "<!channel>",
    "<!here>",
    "<!everyone>",
    "<!channel|@channel>",
    "<@U0123ABC>",
    "<@W999|bob>",
    "<#C0123|general>",
    "<!subteam^S123|@devs>",
    "<!date^1392734382^{date}|Feb 18>",
    "<https://x.test|링크>",
    "&lt;!channel&gt;",
    "&amp;lt;",
    "*굵게*",
    "_기울임_",
    "~취소~",
    "`code`",
    "```\nblock\n```",
    ">인용",
    ":whale:",
    "<mailto:a@b.c|메일>",
    "<>",
    "<<<>>>",
    "<!",
    "<@",
]
KOREAN = [
    "도커 볼륨이 뭐야?",
    "컨테이너끼리 이름으로 통신하려면?",
    "이미지랑 컨테이너 차이",
    "쿠버네티스 파드",
    "docker run -v data:/data 는?",
    "compose depends_on",
    "볼륨",
    "ㅋㅋㅋ",
    "ㄷㅋ ㅂㄹ",
]
WEIRD = [
    "\U0001f433" * 3,
    "\u0301\u0301\u0301",
    "Z\u0351\u0352\u0353algo",
    "\ud7a3",
    "\U000e0001",
    "\ufffd",
    "ﾄﾞｯｶｰ",
    "ＤＯＣＫＥＲ",
    "\u3000",
    "\u2028",
    "\u2029",
    "\x85",
    "𝔡𝔬𝔠𝔨𝔢𝔯",
    "½",
    "٣",
    "⁉",
]

any_char = st.characters(blacklist_categories=("Cs",))  # lone surrogates cannot be sent or encoded
piece = st.one_of(
    st.text(any_char, max_size=40),
    st.sampled_from(CONTROL + ZERO_WIDTH + BIDI),
    st.sampled_from(RTL_TEXT + SLACK_MARKUP + KOREAN + WEIRD),
)
mixed = st.lists(piece, max_size=25).map("".join)


@st.composite
def questions(draw: st.DrawFn) -> str:
    """Short mixes, or a piece repeated up to 100,000 characters (hypothesis alone rarely goes that big)."""
    text = draw(mixed)
    if text and draw(st.booleans()):
        times = draw(st.integers(1, MAX_CHARS // len(text)))
        text = (text * times)[:MAX_CHARS]
    return text


@pytest.fixture(scope="module")
def matcher():
    from bot.live_knowledge import LiveKnowledge

    return LiveKnowledge.load(REPO / "knowledge").current.matcher


def check_answer(answer, question: str) -> None:
    assert answer.outcome in OUTCOMES
    assert answer.question == question
    if answer.outcome == "invalid":
        assert answer.reason and any("\uac00" <= ch <= "\ud7a3" for ch in answer.reason), answer.reason
        assert answer.match is None
    elif answer.outcome == "answered":
        assert answer.match is not None and 0 <= answer.match.score <= 1.0001
    elif answer.outcome == "suggested":
        assert answer.match is None and answer.alternatives
    else:
        assert answer.match is None


def no_ping(rendered: str) -> None:
    """Nothing that Slack would turn into a ping or a mention (user text is always escaped)."""
    for ping in ("<!channel", "<!here", "<!everyone", "<@", "<!subteam"):
        assert ping not in rendered, f"{ping!r} echoed in {rendered[:300]!r}"


@settings(
    max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
@given(question=questions())
def test_matcher_any_input_one_of_the_outcomes(matcher, figures, question):
    from bot.answer_view import answer_text
    from bot.commands.ask import answer_json

    started = time.perf_counter()
    answer = matcher.match(question)
    elapsed = time.perf_counter() - started
    check_answer(answer, question)
    # Both terminal renderings of the CLI contract work for every answer.
    assert isinstance(answer_text(answer, matcher.kb, can_pick=True), str)
    json.dumps(answer_json(answer), ensure_ascii=False)
    figures.add("fuzz_matcher", "inputs")
    figures.add("fuzz_matcher", f"outcome_{answer.outcome}")
    figures.most("fuzz_matcher", "max_chars", len(question))
    figures.most("fuzz_matcher", "slowest_match_s", elapsed)


HAND_PICKED = {
    "empty": "",
    "spaces": " \t\n " * 10,
    "100k Korean": ("도커 볼륨이 뭐야? " * 10_000)[:MAX_CHARS],
    "100k one letter": "a" * MAX_CHARS,
    "100k zero-width": "\u200b" * MAX_CHARS,
    "100k NUL": "\x00" * MAX_CHARS,
    "100k RTL override": ("\u202e볼륨" * 50_000)[:MAX_CHARS],
    "100k markup": ("<!channel> " * 10_000)[:MAX_CHARS],
    "100k emoji": "\U0001f433" * MAX_CHARS,
    "100k combining": "\u0301" * MAX_CHARS,
    "100k no spaces Hangul": "볼" * MAX_CHARS,
    "100k distinct words": " ".join(f"w{i}" for i in range(20_000))[:MAX_CHARS],
    "only markup": "<!channel> <@U0123ABC> <!here>",
    "only control": "".join(CONTROL),
    "only bidi": "".join(BIDI),
    "Korean with zero-width": "\u200b".join("도커 볼륨이 뭐야"),
    "RTL question": RTL_TEXT[0],
    "escaped ping": "&lt;!channel&gt; 볼륨이 뭐야",
}


@pytest.mark.parametrize("name", sorted(HAND_PICKED))
def test_matcher_hand_picked(matcher, figures, name):
    question = HAND_PICKED[name]
    check_answer(matcher.match(question), question)
    figures.add("fuzz_matcher", "hand_picked")


@settings(
    max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
@given(raw=mixed)
def test_slack_text_never_echoes_a_ping(matcher, figures, raw):
    """A Slack message text through the Slack path (markup stripped, matched, rendered): no ping echoed."""
    from handlers.slack_text import question_from_slack
    from handlers.views import answer_message

    question = question_from_slack(raw, "UBOT0001")
    answer = matcher.match(question.text)
    check_answer(answer, question.text)
    message = answer_message(answer, kb=None, broadcast_note=question.had_broadcast)
    no_ping(json.dumps({"text": message.text, "blocks": message.blocks}, ensure_ascii=False))
    figures.add("fuzz_matcher", "slack_renders")


def _ask(args: list[str], stdin: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONIOENCODING": "utf-8", "DOCKBOT_KNOWLEDGE_DIR": str(REPO / "knowledge")}
    return subprocess.run(
        [sys.executable, "-m", "bot", "ask", *args],
        input=stdin,
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=env,
        cwd=REPO,
        timeout=timeout,
    )


def _one_line(text: str) -> str:
    """`dockbot ask --json -` reads one question per line: "\r" and "\n" (Python's line ends) -> spaces."""
    return text.replace("\r", " ").replace("\n", " ")


@settings(
    max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
@given(batch=st.lists(questions().map(_one_line), min_size=50, max_size=120))
def test_dockbot_ask_json_stdin(figures, batch):
    """One JSON object per input line, in order, exit 0, nothing on stderr (no traceback)."""
    result = _ask(["--json", "-"], "".join(q + "\n" for q in batch))
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    # Split on "\n" only: JSON keeps U+2028, U+0085 etc. unescaped and str.splitlines() would split on them.
    lines = result.stdout.split("\n")[:-1]
    assert len(lines) == len(batch), (len(lines), len(batch))
    for line, question in zip(lines, batch, strict=True):
        obj = json.loads(line)
        assert set(obj) == {"question", "outcome", "match", "alternatives"}
        assert obj["outcome"] in OUTCOMES
        assert obj["question"] == question
        assert obj["match"] is None or {"id", "title", "score"} <= set(obj["match"])
    figures.add("fuzz_matcher", "cli_json_inputs", len(batch))


# Linux caps one argv string at 128 KiB (MAX_ARG_STRLEN) and argv cannot carry NUL: the rest go through stdin.
ARGV_SAFE = sorted(n for n, q in HAND_PICKED.items() if "\x00" not in q and len(q.encode()) < 128 * 1024)


@pytest.mark.parametrize("name", ARGV_SAFE)
def test_dockbot_ask_text(figures, name):
    """`dockbot ask "..."`: exit 0 with an answer or a Korean reason, never a traceback."""
    result = _ask([HAND_PICKED[name]], "")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    assert any("\uac00" <= ch <= "\ud7a3" for ch in result.stdout), result.stdout[:500]
    figures.add("fuzz_matcher", "cli_text_inputs")


def test_dockbot_ask_json_hand_picked(figures):
    """Every hand-picked input (100,000 characters of NUL, RTL overrides, pings, ...) through stdin."""
    batch = [_one_line(HAND_PICKED[name]) for name in sorted(HAND_PICKED)]
    result = _ask(["--json", "-"], "".join(q + "\n" for q in batch))
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    objects = [json.loads(line) for line in result.stdout.split("\n")[:-1]]
    assert [obj["question"] for obj in objects] == batch
    figures.add("fuzz_matcher", "cli_json_inputs", len(batch))
