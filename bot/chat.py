"""The terminal door (`dockbot chat`, or bare `dockbot` without tokens): same answers and demos as Slack.

Lines starting with `/` are commands (/help, /demo list, /demo NAME, /quit; any other is told it is
unknown); a bare number opens that entry of the last answer's numbered list (related entries or
suggestions); anything else is a question. Input is read by bot/chat_input.py (readline, history, a
multi-line paste as one question); answers are terminal text (no Slack markup, bot/terminal_text.py).
"""

from __future__ import annotations

import logging
import re
import sys
import uuid
from typing import TYPE_CHECKING, Any, TextIO

from bot.command_words import QUIT_WORDS, asks_for_demo_list, asks_for_help
from bot.render import render_text

if TYPE_CHECKING:
    from bot.brain import Brain

log = logging.getLogger(__name__)

PROMPT = "질문> "
COMMAND = re.compile(r"/[A-Za-z가-힣]+")
GREETING = "dockbot 터미널 채팅이에요. 질문을 입력하세요. (/help 도움말, /quit 끝내기)"


def _demos_of(brain: Brain) -> list[Any] | None:
    if brain.demos is None:
        return None
    try:
        return brain.demos.scenarios()
    except Exception:  # a broken demo setup must not break the chat
        log.exception("listing demos failed")
        return None


class DemoPrinter:
    """A demo shown once as it runs: its header, each step as it finishes, then the verdict.

    The demo service calls back with the whole run so far on every update; only what is new is printed."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.started = False
        self.printed_steps = 0
        self.ended = False

    def _write(self, template: str, **context: Any) -> None:
        try:
            text = render_text(template, **context)
        except Exception:  # a template bug must not hide the run's outcome
            log.exception("rendering %s failed", template)
            return
        if text:
            self.out.write(text + "\n")
            self.out.flush()

    def update(self, run: Any) -> None:
        if not self.started:
            self.started = True
            self._write("demo_header.txt.j2", run=run)
        steps = list(getattr(run, "steps", []) or [])
        total = getattr(run, "total_steps", 0) or len(steps)
        for number, step in enumerate(steps[self.printed_steps :], start=self.printed_steps + 1):
            self._write("demo_step.txt.j2", step=step, number=number, total=total)
        self.printed_steps = len(steps)
        if getattr(run, "finished", False) and not self.ended:
            self.ended = True
            self._write("demo_footer.txt.j2", run=run)


def handle_demo(brain: Brain, argument: str, out: TextIO) -> None:
    """`/demo list` or `/demo NAME`; the name only picks a scenario, nothing typed is ever executed."""
    demos = _demos_of(brain)
    if demos is None or brain.demos is None:
        out.write("지금은 데모를 쓸 수 없어요 (데모 기능이 꺼져 있거나 준비되지 않았어요).\n")
        return
    name = argument.strip()
    if asks_for_demo_list(name):
        out.write(render_text("demo_catalog.txt.j2", demos=demos, notice=None, run_with="/demo") + "\n")
        return
    from bot.demos.errors import DemoError

    printer = DemoPrinter(out)
    try:
        future = brain.demos.submit(name, user="terminal", channel="terminal", on_progress=printer.update)
        run = future.result()
    except DemoError as exc:
        out.write(exc.message_ko + "\n")
        return
    except Exception:
        log.exception("demo %s failed", name[:80])
        out.write("데모를 실행하다가 문제가 생겼어요. 잠시 뒤 다시 시도해 주세요.\n")
        return
    if hasattr(brain, "record_demo"):
        try:
            brain.record_demo(run, user="terminal", channel="terminal")
        except Exception:
            log.debug("record_demo failed", exc_info=True)
    printer.update(run)  # whatever the callbacks did not show yet (a service that reports only the end)


def unknown_command(command: str) -> str:
    shown = "".join(ch for ch in command[:30] if ch.isprintable())
    return f"'{shown}' 은(는) 모르는 명령이에요. 쓸 수 있는 명령은 /help 로 볼 수 있어요.\n"


def chat_loop(brain: Brain, stdin: TextIO, stdout: TextIO, *, prompt: bool = True) -> int:
    """`prompt`: a person types at a terminal (readline editing, history, pastes joined as one question)."""
    from bot.chat_input import TerminalInput

    reader = TerminalInput(stdin, stdout, interactive=prompt)
    try:
        return _converse(brain, reader, stdout)
    finally:
        reader.save_history()


def _converse(brain: Brain, reader: Any, stdout: TextIO) -> int:
    from bot.answer_view import answer_text, pickable_entries, picked_answer

    # One chat session is one conversation: a follow-up ("그럼 익명인 건?") leans on the last answer.
    conversation = f"chat:{uuid.uuid4().hex}"
    stdout.write(GREETING + "\n")
    picks: list[Any] = []  # the numbered entries of the last answer
    while True:
        line = reader.read(PROMPT)
        if line is None:
            stdout.write("\n안녕히 가세요!\n")
            return 0
        text = line.strip()
        if not text:
            continue
        command, _, argument = text.partition(" ")
        if command in QUIT_WORDS:
            stdout.write("안녕히 가세요!\n")
            return 0
        if asks_for_help(text):
            stdout.write(render_text("help.txt.j2", demos=_demos_of(brain)) + "\n")
            continue
        if command == "/demo":
            handle_demo(brain, argument, stdout)
            continue
        if COMMAND.fullmatch(command):  # "/etc/hosts 가 뭐야?" is a question, "/dmeo" a mistyped command
            stdout.write(unknown_command(command))
            continue
        snapshot = brain.snapshot()  # one version of the knowledge for this whole answer
        kb = snapshot.kb
        if text.isdecimal() and 1 <= int(text) <= len(picks):
            # Opened from the list by its number, like a pressed button in Slack: not a new question.
            entry = picks[int(text) - 1]
            answer = picked_answer(entry)
            brain.picked(entry.id, conversation=conversation)
        else:
            answer = brain.ask(
                text,
                user="terminal",
                channel="terminal",
                source="chat",
                conversation=conversation,
                snapshot=snapshot,
            )
        picks = pickable_entries(answer, kb)
        stdout.write(answer_text(answer, kb, can_pick=True) + "\n")
        stdout.flush()


def run_chat(stdin: TextIO, stdout: TextIO) -> int:
    from bot.brain import build_brain
    from bot.config import ConfigError
    from bot.knowledge import KnowledgeError

    try:
        try:
            # serving: on an empty model cache the prompt comes at once (lexical answers) and the model
            # trains in a thread, swapped in when done, as in `dockbot serve`.
            brain = build_brain(with_demos=True, serving=True)
        except (ImportError, RuntimeError, OSError) as exc:
            log.warning("demos unavailable: %s", exc)
            brain = build_brain(with_demos=False, serving=True)
    except ConfigError as exc:
        stdout.write(f"설정 오류: {exc}\n")
        return 2
    except KnowledgeError as exc:
        stdout.write("지식 베이스(knowledge/)에 문제가 있어서 시작할 수 없어요:\n")
        stdout.writelines(f"{p}\n" for p in exc.problems)
        return 1

    def notify(text: str) -> None:  # broken/fixed knowledge edits, printed between answers
        stdout.write(f"\n{text}\n")
        stdout.flush()

    brain.start_watching(notify)  # knowledge/ edits are picked up while chatting (bot/reloader.py)
    if stdin is sys.stdin and stdout is sys.stdout:
        from bot.commands.ask import utf8_streams

        utf8_streams()
        stdin, stdout = sys.stdin, sys.stdout
    try:
        from bot.chat_input import is_terminal

        return chat_loop(brain, stdin, stdout, prompt=is_terminal(stdin) and is_terminal(stdout))
    finally:
        brain.stop_watching()
        if brain.demos is not None and hasattr(brain.demos, "close"):
            brain.demos.close()
