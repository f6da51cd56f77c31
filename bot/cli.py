"""The `dockbot` command line: ask | chat | demo | validate | serve | gc | stats.

Imports are lazy on purpose: `dockbot ask` must start fast (no Slack or docker SDK import) and each
subcommand pulls in only what it uses.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import NoReturn

EXIT_CODES = """exit codes:
  0    done: an answer (also "no answer": see ask --json "outcome"), a passed demo, a valid knowledge base
  1    failed: a demo expectation did not hold, the knowledge base is invalid, Slack could not be reached
  2    usage or settings error (one line names the argument or environment variable), unknown demo
  3    the Docker engine or Kubernetes cluster for demos is unavailable
  130  interrupted (Ctrl-C)"""


def version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed_version

    try:
        return installed_version("dockbot")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dockbot",
        description="Docker/Kubernetes Q&A in Korean and live Docker demos. "
        "With no subcommand: the Slack bot when SLACK_BOT_TOKEN is set, otherwise the terminal chat.",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"dockbot {version()}")
    sub = parser.add_subparsers(dest="command")

    ask = sub.add_parser(
        "ask",
        help="answer one question (or one per line from stdin with '-')",
        epilog='--json prints {"question", "outcome", "match", "alternatives"}; outcome is answered, '
        "suggested, no_answer, smalltalk or invalid (a script can tell no answer from bad input).",
    )
    ask.add_argument(
        "question", nargs="+", help="the question (quotes optional), or '-' to read one question per line"
    )
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
    from bot.config import ConfigError, Settings

    try:
        # Read for every command, so that a malformed variable is the same one line wherever it is used.
        settings = Settings.from_env()
        command = args.command or ("serve" if settings.has_slack_tokens else "chat")
        return _dispatch(command, args)
    except ConfigError as exc:  # a malformed variable: one line naming it, whatever the subcommand
        print(f"dockbot: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(file=sys.stderr)  # the shell prompt starts on its own line after ^C
        return 130
    except BrokenPipeError:
        return 0


def run() -> NoReturn:
    """The process entry point (`dockbot`, `python -m bot`)."""
    sys.exit(main())


def _dispatch(command: str, args: argparse.Namespace) -> int:
    # Each subcommand lives with the part of the core it drives.
    if command == "ask":
        from bot.commands.ask import run_ask

        question = "-" if args.question == ["-"] else " ".join(args.question)
        return run_ask(question, as_json=args.json)
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
        from handlers.server import serve

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
