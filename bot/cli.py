"""The `dockbot` command line: ask | chat | demo | validate | serve | gc | stats.

Imports are lazy on purpose: `dockbot ask` must start fast (no Slack or docker SDK import) and each
subcommand pulls in only what it uses.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import os
import sys
import threading
from collections.abc import Sequence
from typing import NoReturn


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dockbot",
        description="Docker/Kubernetes Q&A in Korean and live Docker demos. "
        "With no subcommand: the Slack bot when SLACK_BOT_TOKEN is set, otherwise the terminal chat.",
    )
    sub = parser.add_subparsers(dest="command")

    ask = sub.add_parser("ask", help="answer one question (or one per line from stdin with '-')")
    ask.add_argument("question", help="the question, or '-' to read one question per line from stdin")
    ask.add_argument("--json", action="store_true", help="print JSON instead of text")

    sub.add_parser("chat", help="terminal chat with the same answers and demos as the Slack bot")

    validate = sub.add_parser("validate", help="check the knowledge base (entries, synonyms, demos)")
    validate.add_argument("directory", nargs="?", help="knowledge directory (default DOCKBOT_KNOWLEDGE_DIR)")

    demo = sub.add_parser("demo", help="run a live Docker demo")
    demo.add_argument("name", nargs="?", help="scenario name (see --list)")
    demo.add_argument("--list", action="store_true", help="list the demos")
    demo.add_argument("--json", action="store_true", help="print the result as JSON")

    sub.add_parser("gc", help="remove every demo container, volume and network left behind (by label)")
    sub.add_parser("serve", help="run the Slack bot (Socket Mode with SLACK_APP_TOKEN, else HTTP on PORT)")

    stats = sub.add_parser("stats", help="unanswered questions, feedback, demo runs")
    stats.add_argument("--json", action="store_true", help="print JSON")
    stats.add_argument(
        "--suggest", action="store_true", help="ready-to-paste YAML for the top gaps; suggested examples"
    )
    decide = stats.add_mutually_exclusive_group()
    decide.add_argument(
        "--approve", type=int, metavar="ID", help="add suggested example ID to its entry's YAML"
    )
    decide.add_argument("--reject", type=int, metavar="ID", help="reject suggested example ID")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    command = args.command
    if command is None:
        from bot.config import Settings

        command = "serve" if Settings.from_env().has_slack_tokens else "chat"
    try:
        return _dispatch(command, args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


def run() -> NoReturn:
    """The process entry point (`dockbot`, `python -m bot`): main(), then end the process without tearing
    the interpreter down. Freeing the modules of the docker SDK, requests and jinja2 takes ~30 ms of CPU
    after the output is complete (bench/bench_demo.py); exit handlers still run and the streams are
    flushed. While a non-daemon thread is still running, the ordinary exit (which waits for it) is used."""
    code = main()
    if any(t.is_alive() and not t.daemon for t in threading.enumerate() if t is not threading.main_thread()):
        sys.exit(code)
    atexit._run_exitfuncs()  # logging.shutdown, weakref finalizers, ...: what the ordinary exit runs
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        with contextlib.suppress(AttributeError, OSError, ValueError):  # none, closed, or a closed pipe
            stream.flush()
    os._exit(code)


def _dispatch(command: str, args: argparse.Namespace) -> int:
    # Each subcommand lives with the part of the core it drives.
    if command == "ask":
        from bot.commands.ask import run_ask

        return run_ask(args.question, as_json=args.json)
    if command == "chat":
        from bot.chat import run_chat

        return run_chat(sys.stdin, sys.stdout)
    if command == "validate":
        from bot.commands.validate import run_validate

        return run_validate(args.directory)
    if command == "demo":
        from bot.commands.demo import run_demo

        return run_demo(args.name, list_only=args.list, as_json=args.json)
    if command == "gc":
        from bot.commands.demo import run_gc

        return run_gc()
    if command == "serve":
        from bot.slack_app import serve

        return serve()
    if command == "stats":
        from bot.commands.stats import run_stats

        if args.approve is not None or args.reject is not None:
            from bot.commands.stats import run_decide

            approve = args.approve is not None
            return run_decide(args.approve if approve else args.reject, approve=approve)
        return run_stats(as_json=args.json, suggest=args.suggest)
    raise AssertionError(command)


if __name__ == "__main__":
    run()
